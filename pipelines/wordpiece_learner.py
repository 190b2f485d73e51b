"""WordPiece vocabulary learning from word counts.

`split_words` cuts text into words as the product's WordPiece tokenizer does
(tokenization.TextTokenizer: BERT normalisation, then splits at whitespace and
around every punctuation and CJK character). `learn_vocab` turns word counts
into a vocab.txt: SentencePiece's BPE trainer learns subword merges from the
counts (each word once, with its count), and its pieces become WordPiece
tokens: a word-initial piece ("▁hel") the token "hel", any other ("lo") the
continuation "##lo". Every character of the counted words is in the vocab in
both forms, so no counted word becomes [UNK].
"""
import collections
import functools
import io
import os
import re
import sys
import unicodedata
from typing import Iterable, Mapping

import sentencepiece

from core import vocabulary

CONTINUATION = "##"
# Longer words are [UNK] in tokenization.TextTokenizer (as in BERT's FullTokenizer): not counted.
MAX_CHARS_PER_WORD = 400
# Longest piece SentencePiece may merge, in characters.
MAX_PIECE_CHARS = 64
# The most frequent words that train the merges (SentencePiece's trainer holds about 1 KB per
# word); rarer ones still bring their characters.
MAX_BPE_WORDS = 500_000
_SP_WORD_START = "\u2581"  # SentencePiece's word-start mark


def _ranges(codepoints: list[int]) -> str:
    """A regex character class body matching exactly `codepoints` (sorted)."""
    parts, start = [], None
    for i, cp in enumerate(codepoints):
        if start is None:
            start = cp
        if i + 1 == len(codepoints) or codepoints[i + 1] != cp + 1:
            parts.append(re.escape(chr(start)) + ("" if cp == start else "-" + re.escape(chr(cp))))
            start = None
    return "".join(parts)


_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


@functools.cache
def _patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern, re.Pattern]:
    """(dropped, whitespace, non-spacing marks, word) regexes of BERT's rules,
    from the Unicode tables of this Python (built once per process)."""
    by_category: dict[str, list[int]] = {"Cf": [], "Z": [], "Mn": [], "P": []}
    for cp in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(cp))
        for key in (category, category[0]):
            if key in by_category:
                by_category[key].append(cp)
    dropped = sorted({*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0),
                      0xFFFD, *by_category["Cf"]})
    whitespace = sorted({0x09, 0x0A, 0x0D, *by_category["Z"]})
    ascii_symbols = [*range(33, 48), *range(58, 65), *range(91, 97), *range(123, 127)]
    cjk = [cp for low, high in _CJK for cp in range(low, high + 1)]
    single = _ranges(sorted({*ascii_symbols, *by_category["P"], *cjk}))
    return (re.compile(f"[{_ranges(dropped)}]"), re.compile(f"[{_ranges(whitespace)}]"),
            re.compile(f"[{_ranges(by_category['Mn'])}]"),
            re.compile(f"[{single}]|[^ {single}]+"))


# Printable ASCII is letters, digits, space and the symbols BERT splits off one by one.
_ASCII_DROPPED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_WORDS = re.compile("[A-Za-z0-9]+|[^\t\n\r A-Za-z0-9]")


def split_words(text: str, lowercase: bool) -> list[str]:
    """The words of `text` as tokenization.TextTokenizer sees them: control and
    format characters dropped, whitespace unified; if lowercase, Python-style
    lower-casing, NFD and non-spacing marks removed; then cut at whitespace,
    each punctuation (ASCII symbols, Unicode P*) and CJK character a word."""
    if text.isascii():
        text = _ASCII_DROPPED.sub("", text)
        return _ASCII_WORDS.findall(text.lower() if lowercase else text)
    dropped, whitespace, marks, words = _patterns()
    text = whitespace.sub(" ", dropped.sub("", text))
    if lowercase:
        text = marks.sub("", unicodedata.normalize("NFD", text.lower()))
    return words.findall(text)


# Whitespace to Python's str.split() that BERT's cleaning drops instead (joining its neighbours).
_SPLIT_NOT_BERT = re.compile("[\x0b\x0c\x1c-\x1f\x85]")


def count_pieces(texts: Iterable[str], lowercase: bool) -> collections.Counter:
    """piece -> count of the texts cut at whitespace (str.split), lower-cased
    if lowercase: what WordCounter.add_pieces takes (cheap to count and to ship
    between processes; split_words acts on each piece alone)."""
    pieces: collections.Counter = collections.Counter()
    for text in texts:
        if _SPLIT_NOT_BERT.search(text):
            text = _SPLIT_NOT_BERT.sub("", text)
        pieces.update((text.lower() if lowercase else text).split())
    return pieces


class WordCounter:
    """word -> count (words as split_words cuts them) from piece counts
    (count_pieces): each distinct piece is split into words once, with its
    count. Memory: at most about MAX_PIECES distinct pieces, plus the words."""

    MAX_PIECES = 1 << 21

    def __init__(self, lowercase: bool):
        self._counts: collections.Counter = collections.Counter()
        self._pieces: collections.Counter = collections.Counter()
        self._lowercase = lowercase

    def add_pieces(self, pieces: dict[str, int]) -> None:
        self._pieces.update(pieces)
        if len(self._pieces) >= self.MAX_PIECES:
            self.counts()

    def counts(self) -> collections.Counter:
        """word -> count of all pieces added so far."""
        counts, lowercase = self._counts, self._lowercase
        for piece, count in self._pieces.items():
            if piece.isalnum() and piece.isascii():
                counts[piece] += count
            else:
                for word in split_words(piece, lowercase):
                    counts[word] += count
        self._pieces.clear()
        return counts


def _bpe_pieces(word_counts: dict[str, int], size: int) -> list[str]:
    """SentencePiece BPE pieces (▁ marks a word start) learned from
    word -> count, in merge order, at most `size` - 1 of them."""
    writer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=(f"{word}\t{count}" for word, count in word_counts.items()),
        input_format="tsv", model_writer=writer, model_type="bpe", vocab_size=size,
        hard_vocab_limit=False, character_coverage=1.0, normalization_rule_name="identity",
        add_dummy_prefix=True, remove_extra_whitespaces=False, split_by_whitespace=True,
        split_by_number=False, split_by_unicode_script=False, split_digits=False,
        max_sentencepiece_length=MAX_PIECE_CHARS, max_sentence_length=1 << 20,
        input_sentence_size=0, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
        num_threads=os.cpu_count() or 1, minloglevel=2)
    model = sentencepiece.SentencePieceProcessor(model_proto=writer.getvalue())
    pieces = [model.id_to_piece(i) for i in range(model.get_piece_size())
              if not (model.is_unknown(i) or model.is_control(i))]
    return sorted(pieces, key=lambda piece: -model.get_score(model.piece_to_id(piece)))


def learn_vocab(word_counts: Mapping[str, int], vocab_size: int) -> list[str]:
    """A WordPiece vocab of at most vocab_size tokens from word -> count
    (words as split_words gives them): the reserved tokens (ids 0-4), every
    character as a word start and as a continuation ("a", "##a"; the most
    frequent first if they do not all fit), then BPE pieces in merge order,
    learned from the MAX_BPE_WORDS most frequent words. The same counts give
    the same vocab, whatever their order."""
    ranked = sorted(((w, c) for w, c in word_counts.items()
                     if c > 0 and 0 < len(w) <= MAX_CHARS_PER_WORD and " " not in w),
                    key=lambda item: (-item[1], item[0]))
    char_counts: dict[str, int] = {}
    for word, count in ranked:
        for char in word:
            char_counts[char] = char_counts.get(char, 0) + count
    chars = sorted(char_counts, key=lambda char: (-char_counts[char], char))
    vocab = list(vocabulary.RESERVED_TOKENS)
    room = max(0, (vocab_size - len(vocab)) // 2)
    vocab += [token for char in chars[:room] for token in (char, CONTINUATION + char)]
    budget = vocab_size - len(vocab)
    if budget <= 0 or not ranked:
        return vocab[:vocab_size]
    seen = set(vocab)
    # SentencePiece's vocab: <unk>, the characters, "▁" + character (word-start characters),
    # then the pieces that are new here; ask for enough of them.
    for piece in _bpe_pieces(dict(ranked[:MAX_BPE_WORDS]), 1 + 2 * len(chars) + budget + 1):
        token = (piece[1:] if piece.startswith(_SP_WORD_START)
                 else CONTINUATION + piece)
        if token in seen or token in ("", CONTINUATION) or _SP_WORD_START in token:
            continue
        seen.add(token)
        vocab.append(token)
        if len(vocab) == vocab_size:
            break
    return vocab
