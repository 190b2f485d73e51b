"""The one error of conversion: a file or setting that cannot be converted."""
from __future__ import annotations

from core.cli import UserError


class ConversionError(UserError):
    """A missing file, an unknown architecture, a shape or vocabulary mismatch, or a setting this
    project cannot represent; the message names the file and the variable or setting."""
