"""Sentence splitting of prose paragraphs (blingfire's model)."""
import blingfire


def split_sentences(paragraph: str) -> list[str]:
    """Splits one paragraph into its non-empty, stripped sentences, in order."""
    if not paragraph.strip():
        return []
    sentences = blingfire.text_to_sentences(paragraph).split("\n")
    return [s.strip() for s in sentences if s.strip()]
