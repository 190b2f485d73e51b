"""WordPiece (BERT) and SentencePiece tokenization shared by the data
pipeline and serving.

`make_text_tokenizer` returns an in-graph tokenizer (a tf.Module of
tensorflow_text ops), so the exporter can place the very same object (and its
vocab) in a SavedModel graph: pipeline and serving then produce identical ids.
"""
import tensorflow as tf
import tensorflow_text as tf_text

from core import vocabulary
from core.vocabulary import UNK


def _open_binary(path: str):
    return tf.io.gfile.GFile(path, "rb")


def load_vocab(path: str) -> list[str]:
    """Reads a vocab file (one token per line; line number = id)."""
    with _open_binary(path) as f:
        return vocabulary.parse_vocab(f.read().decode("utf-8"))


# BERT's text cleaning (FullTokenizer._clean_text): control and format
# characters (Unicode Cc, Cf; not tab, newline, return), NUL and U+FFFD are
# dropped; tab, newline, return and separators (Z*, all split on by Python's
# str.split) become " ".
_DROPPED_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{fffd}\p{Cf}]"
_WHITESPACE_CHARS = r"[\t\n\r\p{Z}]"
# FullTokenizer's WordpieceTokenizer: longer words become [UNK].
MAX_CHARS_PER_WORD = 400


def bert_normalize(text: tf.Tensor, lowercase: bool) -> tf.Tensor:
    """BERT's (FullTokenizer's) normalisation of utf-8 strings, in-graph:
    cleaning as above, then for uncased models Python-style lower-casing, NFD
    and removal of non-spacing marks (Mn) -- not ICU case folding / NFKC."""
    text = tf.strings.regex_replace(text, _DROPPED_CHARS, "")
    text = tf.strings.regex_replace(text, _WHITESPACE_CHARS, " ")
    if lowercase:
        text = tf_text.normalize_utf8(tf.strings.lower(text, encoding="utf-8"), "NFD")
        text = tf.strings.regex_replace(text, r"\p{Mn}", "")
    return text


class TextTokenizer(tf.Module):
    """BERT WordPiece in the graph: strings [batch] -> int64 ids RaggedTensor
    [batch, pieces], equal to those of BERT's reference FullTokenizer
    (tf-models-official).

    Fast path: `bert_normalize`, then tf_text's FastWordpieceTokenizer end to
    end (its pre-tokenization splits on whitespace, punctuation and CJK
    characters as BERT's BasicTokenizer does), about 3x faster than
    BertTokenizer. FullTokenizer makes a word of over 400 characters [UNK], a
    rule FastWordpiece could only apply in bytes, so lines with a run of over
    400 non-space characters take the exact path instead (BertTokenizer words,
    measured in characters), the others the fast one.
    """

    def __init__(self, vocab_lookup_table, vocab: list[str], lowercase: bool):
        super().__init__()
        self._lowercase = lowercase
        self._exact = tf_text.BertTokenizer(
            vocab_lookup_table, token_out_type=tf.int64, unknown_token=UNK, lower_case=False,
            max_bytes_per_word=4 * MAX_CHARS_PER_WORD)
        self._fast = tf_text.FastWordpieceTokenizer(
            vocab=vocab, token_out_type=tf.int64, unknown_token=UNK, no_pretokenization=False,
            max_bytes_per_word=1 << 30, support_detokenization=False)

    def _exact_ids(self, text):
        words = self._exact._basic_tokenizer.tokenize(text)
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
        # The token "[UNK]" is its own vocab entry, so such a word maps to [UNK].
        words = words.with_flat_values(tf.where(too_long, UNK, words.flat_values))
        return self._exact._wordpiece_tokenizer.tokenize(words).merge_dims(-2, -1)

    def tokenize(self, text_input):
        """Strings [batch] -> int64 ids RaggedTensor [batch, pieces]."""
        text = bert_normalize(text_input, self._lowercase)
        long_run = tf.strings.regex_full_match(text, f".*[^ ]{{{MAX_CHARS_PER_WORD + 1}}}.*")
        rows = tf.range(tf.shape(text)[0])
        ids = tf.concat([self._fast.tokenize(tf.boolean_mask(text, ~long_run)),
                         self._exact_ids(tf.boolean_mask(text, long_run))], axis=0)
        order = tf.concat([tf.boolean_mask(rows, ~long_run), tf.boolean_mask(rows, long_run)], 0)
        return tf.gather(ids, tf.math.invert_permutation(order))


def lower_case(lines: list[str]) -> list[str]:
    """The lines lower-cased as SentencePieceTextTokenizer does it in the graph."""
    lowered = tf.strings.lower(tf.constant(lines, tf.string), encoding="utf-8")
    return [line.decode("utf-8") for line in lowered.numpy().tolist()]


class SentencePieceTextTokenizer(tf.Module):
    """A SentencePiece model in the graph (tf_text's SentencepieceTokenizer):
    strings [batch] -> int64 ids RaggedTensor [batch, pieces]; `lowercase`
    lower-cases first (tf.strings.lower, as build_vocab did for learning).

    tf_text keeps the model in a resource owned by TensorFlow's eager kernel
    cache, which tf.random.set_seed clears: build it after any seeding."""

    def __init__(self, model_proto: bytes, lowercase: bool):
        super().__init__()
        self._lowercase = lowercase
        self._model = tf_text.SentencepieceTokenizer(model=model_proto, out_type=tf.int32)

    def tokenize(self, text_input):
        """Strings [batch] -> int64 ids RaggedTensor [batch, pieces]."""
        text = tf.strings.lower(text_input, encoding="utf-8") if self._lowercase else text_input
        return tf.cast(self._model.tokenize(text), tf.int64)

    def detokenize(self, ids):
        """Ids RaggedTensor [batch, pieces] -> strings [batch] (control tokens give no text)."""
        return self._model.detokenize(tf.cast(ids, tf.int32))


def make_text_tokenizer(path: str, lowercase: bool) -> TextTokenizer | SentencePieceTextTokenizer:
    """The in-graph tokenizer of a WordPiece vocab.txt (TextTokenizer;
    lowercase=True lower-cases and strips accents, BERT uncased) or of a
    SentencePiece `.model` (SentencePieceTextTokenizer): strings [batch] ->
    int64 ids RaggedTensor [batch, pieces]; unknown words become [UNK]."""
    if vocabulary.is_sentencepiece(path):
        with _open_binary(path) as f:
            return SentencePieceTextTokenizer(f.read(), lowercase)
    table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            path, key_dtype=tf.string, key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
            value_dtype=tf.int64, value_index=tf.lookup.TextFileIndex.LINE_NUMBER),
        default_value=-1)
    return TextTokenizer(table, load_vocab(path), lowercase)


class Tokenizer:
    """The tokenizer of a SentencePiece `.model` or a WordPiece vocab.txt for
    Python callers: `make_text_tokenizer` run eagerly on batches, with the
    vocabulary's kind, pieces and special ids."""

    def __init__(self, path: str, lowercase: bool):
        vocab = vocabulary.read(path)
        self.kind, self.vocab, self.special_ids = vocab.kind, vocab.pieces, vocab.special_ids
        tokenizer = make_text_tokenizer(path, lowercase)

        # No AutoGraph: the graph has no Python control flow, and converting
        # tf_text's code costs about a second per process.
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
        def ids_and_lengths(lines):
            ids = tokenizer.tokenize(lines)
            return ids.flat_values, ids.row_lengths()

        self.text_tokenizer = tokenizer  # the in-graph tokenizer (also keeps its resources alive)
        self._ids_and_lengths = ids_and_lengths

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tokenize_lines(self, lines: list[str]) -> list[list[int]]:
        """Token ids of each line (one TF call for the whole batch)."""
        if not lines:
            return []
        ids, lengths = self._ids_and_lengths(tf.constant(lines, dtype=tf.string))
        return _split(ids.numpy().tolist(), lengths.numpy().tolist())


def _split(values: list[int], lengths: list[int]) -> list[list[int]]:
    out, start = [], 0
    for length in lengths:
        out.append(values[start:start + length])
        start += length
    return out
