"""Simple document quality filters for web text (after Gopher / C4 rules of
thumb). Words are whitespace-separated tokens. Configurable; applied to WARC
and WET documents only unless asked otherwise (`--quality_filter`)."""
import dataclasses

_TERMINAL = (".", "!", "?", '"', "'", "\u201d")


@dataclasses.dataclass(frozen=True)
class QualityFilter:
    """Thresholds; a document failing one is skipped as `quality_<name>`."""
    min_words: int = 50  # too short to be prose
    max_words: int = 100_000
    min_mean_word_length: float = 3.0  # characters per word
    max_mean_word_length: float = 10.0
    max_symbol_ratio: float = 0.1  # ("#" and "..." / "\u2026") per word
    min_alpha_word_fraction: float = 0.8  # words with at least one letter
    min_terminal_line_fraction: float = 0.2  # paragraphs ending like a sentence

    def reason(self, paragraphs: list[str]) -> str | None:
        """None if the document passes, else the skip reason."""
        words = [w for p in paragraphs for w in p.split()]
        if len(words) < self.min_words:
            return "quality_min_words"
        if len(words) > self.max_words:
            return "quality_max_words"
        mean_length = sum(map(len, words)) / len(words)
        if not self.min_mean_word_length <= mean_length <= self.max_mean_word_length:
            return "quality_mean_word_length"
        symbols = sum(w.count("#") + w.count("...") + w.count("\u2026") for w in words)
        if symbols / len(words) > self.max_symbol_ratio:
            return "quality_symbol_ratio"
        if sum(any(c.isalpha() for c in w) for w in words) / len(words) < (
                self.min_alpha_word_fraction):
            return "quality_alpha_words"
        terminal = sum(p.rstrip().endswith(_TERMINAL) for p in paragraphs)
        if terminal / len(paragraphs) < self.min_terminal_line_fraction:
            return "quality_terminal_punctuation"
        return None
