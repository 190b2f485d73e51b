"""Loads an exported SavedModel the way a server would and shows what it detects.

`python -m trainers.serving_check --saved_model=DIR --text="..." --swap=old:new`

Imports only tensorflow and tensorflow_text (no project code; TensorFlow itself
loads Keras), so it shows the SavedModel is self-contained. Prints every token of the text with
`old` replaced by `new`, with its replaced probability.
"""
from __future__ import annotations

import argparse
import difflib
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the graph uses)


def swap_word(text: str, swap: str) -> str:
    old, new = swap.split(":", 1)
    words = text.split()
    if old not in words:
        raise ValueError(f"{old!r} is not a word of {text!r}")
    words[words.index(old)] = new
    return " ".join(words)


def project_modules() -> list[str]:
    """Project modules loaded in this process, other than this script."""
    return sorted(name for name in sys.modules
                  if name.split(".")[0] in ("configs", "models", "pipelines", "trainers")
                  and name not in ("trainers", __name__, "trainers.serving_check"))


def swapped_positions(original: list[str], swapped: list[str]) -> set[int]:
    """Indices of `swapped` tokens that are not aligned with an equal token of `original`."""
    matcher = difflib.SequenceMatcher(a=original, b=swapped, autojunk=False)
    kept = {j + k for _, j, size in matcher.get_matching_blocks() for k in range(size)}
    return set(range(len(swapped))) - kept


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--saved_model", required=True)
    p.add_argument("--text", required=True)
    p.add_argument("--swap", required=True, help="old:new, the word to replace and its replacement")
    args = p.parse_args(argv)

    serve = tf.saved_model.load(args.saved_model).signatures["serving_default"]
    swapped = swap_word(args.text, args.swap)
    out = serve(text=tf.constant([args.text, swapped]))
    forbidden = project_modules()
    print(f"loaded {args.saved_model} with tensorflow and tensorflow_text, no project code"
          f"{'' if not forbidden else ' (BUT ALSO ' + ', '.join(forbidden) + ')'}")
    rows = []
    for row in (0, 1):
        mask = out["input_mask"][row].numpy().astype(bool)
        rows.append(([t.decode() for t in out["tokens"][row].numpy()[mask]],
                     out["replaced_probability"][row].numpy()[mask]))
    (original, _), (tokens, probs) = rows
    changed = swapped_positions(original, tokens)
    print(f"original: {' '.join(original)}")
    print(f"swapped:  {' '.join(tokens)}")
    for i, (token, prob) in enumerate(zip(tokens, probs)):
        print(f"  {token:>15s}  {prob:.3f}  {'#' * int(round(prob * 40)):<40s}{'  <- swapped in' if i in changed else ''}")
    others = [p for i, p in enumerate(probs) if i not in changed and tokens[i] not in ("[CLS]", "[SEP]")]
    print(f"mean replaced probability: swapped-in token(s) {sum(probs[i] for i in changed) / len(changed):.3f}, "
          f"other tokens {sum(others) / max(1, len(others)):.3f}")
    return 1 if forbidden else 0


if __name__ == "__main__":
    sys.exit(main())
