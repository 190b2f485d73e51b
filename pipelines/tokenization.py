"""BERT-style WordPiece tokenization shared by the data pipeline and serving.

`make_text_tokenizer` returns the tensorflow_text tokenizer itself, so the
exporter can place the very same object (and its vocab asset) in a SavedModel
graph: pipeline and serving then produce identical ids.
"""
import tensorflow as tf
import tensorflow_text as tf_text

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
# Order in which build_vocab writes them, so [PAD] gets id 0.
RESERVED_TOKENS = (PAD, UNK, CLS, SEP, MASK)
_SPECIAL_KEYS = {"pad": PAD, "unk": UNK, "cls": CLS, "sep": SEP, "mask": MASK}


def load_vocab(path: str) -> list[str]:
    """Reads a vocab file (one token per line; line number = id)."""
    with tf.io.gfile.GFile(path, "r") as f:
        return [line.rstrip("\n") for line in f]


def special_token_ids(vocab: list[str]) -> dict[str, int]:
    """Ids of the special tokens: keys pad, unk, cls, sep, mask."""
    index = {token: i for i, token in enumerate(vocab)}
    missing = [token for token in _SPECIAL_KEYS.values() if token not in index]
    if missing:
        raise ValueError(f"vocab lacks special token(s) {missing}; expected all of "
                         f"{list(RESERVED_TOKENS)}")
    return {key: index[token] for key, token in _SPECIAL_KEYS.items()}


def make_text_tokenizer(vocab_path: str, lowercase: bool) -> tf_text.BertTokenizer:
    """A BertTokenizer: strings [batch] -> int64 ids RaggedTensor [batch, words,
    pieces]. lowercase=True also NFD-normalises and strips accents (BERT
    uncased); pieces missing from the vocab become [UNK]."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            vocab_path, key_dtype=tf.string, key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
            value_dtype=tf.int64, value_index=tf.lookup.TextFileIndex.LINE_NUMBER),
        default_value=-1)
    return tf_text.BertTokenizer(table, token_out_type=tf.int64, unknown_token=UNK,
                                 lower_case=lowercase)


class WordpieceTokenizer:
    """Eager, batched wrapper of `make_text_tokenizer` for Python callers."""

    def __init__(self, vocab_path: str, lowercase: bool = True):
        self.vocab = load_vocab(vocab_path)
        self.special_ids = special_token_ids(self.vocab)
        self._tokenizer = make_text_tokenizer(vocab_path, lowercase)

    def tokenize_lines(self, lines: list[str]) -> list[list[int]]:
        """Token ids of each line (one TF call for the whole batch)."""
        if not lines:
            return []
        ids = self._tokenizer.tokenize(tf.constant(lines, dtype=tf.string))
        return ids.merge_dims(-2, -1).to_list()
