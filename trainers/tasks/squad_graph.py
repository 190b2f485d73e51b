"""SQuAD in TensorFlow ops: (question, context) strings -> windows of model inputs, and the span
head's outputs -> answer spans. Training, evaluation and the SavedModel (trainers/serving/squad.py)
run these same functions, so they cannot disagree.

Featurization follows the ELECTRA release (finetune/qa/qa_tasks.py): the
context is split into whitespace-separated words, each word into the run's
word pieces; the question keeps its first max_query_length pieces; a window
is [CLS] question [SEP] context piece span [SEP] (segment ids 0 then 1), the
windows of a long context start doc_stride pieces apart (fewer if the window
is shorter) until one reaches the context's end. A piece seen by several
windows may start an answer only in its "max context" window (the one where
min(left, right) context + 0.01 x window length is largest, the first on ties).

Offsets: every offset here is a Unicode code point offset into the original
context (a Python str index), spans are [start, end). A piece's span is found
from the lengths of the pieces' text within its word (WordPiece without "##",
SentencePiece without the leading U+2581; one unknown piece takes the rest of
the word); where those lengths do not add up to the word's length (the
tokenizer's normalisation changed the number of characters, or several pieces
are unknown), every piece of the word spans the whole word and only its first
piece may start, only its last end, an answer.

Whitespace: tab, newline, carriage return and Unicode separators (Z*), as the
tokenizer's normalisation (pipelines.tokenization.bert_normalize) uses.
"""
from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

from configs import TaskConfig

WHITESPACE = (9, 10, 13, 32, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
# Window features the model reads.
MODEL_INPUTS = ("input_ids", "input_mask", "segment_ids")
_BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def piece_lengths(pieces: list[str], kind: str, special_ids: dict) -> np.ndarray:
    """Characters of the word that each piece id covers (int32, -1 where unknown: specials, byte pieces)."""
    out = np.empty(len(pieces), np.int32)
    for i, piece in enumerate(pieces):
        if kind == "sentencepiece":
            out[i] = -1 if _BYTE_PIECE.fullmatch(piece) else len(piece.removeprefix("\u2581"))
        else:
            out[i] = len(piece.removeprefix("##"))
    out[list(special_ids.values())] = -1
    return out


def context_words(context):
    """Whitespace-separated words of contexts (B,) string -> (words (n,) string, start (n,) int64,
    length (n,) int64 in characters, row_splits (B + 1,) int64 of each context's words)."""
    chars = tf.strings.unicode_decode(context, "UTF-8")
    flat, row = chars.flat_values, chars.value_rowids()
    position = tf.range(tf.size(flat, out_type=tf.int64)) - tf.gather(chars.row_splits, row)
    space = tf.reduce_any(tf.equal(flat[:, None], tf.constant(WHITESPACE, tf.int32)[None]), axis=1)
    first = ~space & (tf.concat([[True], space], 0)[:-1] | tf.equal(position, 0))
    word = tf.cumsum(tf.cast(first, tf.int64)) - 1
    count = tf.reduce_sum(tf.cast(first, tf.int64))
    letters = tf.RaggedTensor.from_value_rowids(tf.boolean_mask(flat, ~space), tf.boolean_mask(word, ~space),
                                                nrows=count)
    splits = tf.ragged.segment_ids_to_row_splits(tf.boolean_mask(row, first),
                                                 tf.shape(context, out_type=tf.int64)[0])
    return tf.strings.unicode_encode(letters, "UTF-8"), tf.boolean_mask(position, first), letters.row_lengths(), splits


def answer_texts(context, start, end):
    """Substrings [start, end) (characters) of contexts (B,); "" where start < 0."""
    valid = start >= 0
    return tf.strings.substr(context, tf.where(valid, start, 0), tf.where(valid, end - start, 0), unit="UTF8_CHAR")


class SquadFeaturizer(tf.Module):
    """`featurize` turns questions and contexts into model windows (see the module doc).

    tokenizer: the run's in-graph tokenizer (pipelines.tokenization.make_text_tokenizer);
    pieces, kind, special_ids: its vocabulary (core.vocabulary.Vocabulary).
    """

    def __init__(self, tokenizer, pieces: list[str], kind: str, special_ids: dict, task: TaskConfig):
        super().__init__()
        self.tokenizer = tokenizer
        self.piece_lengths = tf.constant(piece_lengths(pieces, kind, special_ids))
        self.cls, self.sep, self.pad = special_ids["cls"], special_ids["sep"], special_ids["pad"]
        self.max_seq_length, self.max_query_length = task.max_seq_length, task.max_query_length
        self.doc_stride = task.doc_stride

    @classmethod
    def from_tokenizer(cls, tokenizer, task: TaskConfig) -> "SquadFeaturizer":
        """From a pipelines.tokenization.Tokenizer."""
        return cls(tokenizer.text_tokenizer, tokenizer.vocab, tokenizer.kind, tokenizer.special_ids, task)

    def _pieces(self, words, word_start, word_length):
        """Word pieces of words (n,) -> (pieces (n, p) ragged int32, their start, end (P,) int64
        characters, can_start, can_end (P,) bool)."""
        pieces = tf.cast(self.tokenizer.tokenize(words), tf.int32)
        ids, word = pieces.flat_values, pieces.value_rowids()
        n = tf.shape(words, out_type=tf.int64)[0]
        length = tf.cast(tf.gather(self.piece_lengths, ids), tf.int64)
        unknown = length < 0
        unknowns = tf.math.unsorted_segment_sum(tf.cast(unknown, tf.int64), word, n)
        rest = word_length - tf.math.unsorted_segment_sum(tf.maximum(length, 0), word, n)
        aligned = tf.gather((tf.equal(unknowns, 0) & tf.equal(rest, 0)) | (tf.equal(unknowns, 1) & (rest > 0)), word)
        length = tf.where(unknown, tf.gather(rest, word), length)
        before = tf.cumsum(length, exclusive=True)
        row_start = pieces.row_splits[:-1]
        offset = before - tf.gather(tf.gather(tf.concat([before, [0]], 0), row_start), word)
        index = tf.range(tf.size(ids, out_type=tf.int64)) - tf.gather(row_start, word)
        start_of_word = tf.gather(word_start, word)
        start = start_of_word + tf.where(aligned, offset, 0)
        end = tf.where(aligned, start + length, start_of_word + tf.gather(word_length, word))
        can_start = tf.where(aligned, length > 0, tf.equal(index, 0))
        can_end = tf.where(aligned, length > 0, tf.equal(index, tf.gather(pieces.row_lengths(), word) - 1))
        return pieces, start, end, can_start, can_end

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string),
                                  tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32)],
                 autograph=False)
    def featurize(self, question, context, answer_start, answer_end):
        """B questions and contexts (strings), answers [answer_start, answer_end) in characters of
        the context (-1: none) -> windows (W of them, in order of example, then position):

          input_ids, input_mask, segment_ids (W, T) int32: the model's inputs;
          start_char (W, T) int32: where an answer starting at the token begins, -1 if none may
            (question, special tokens, padding, not the token's max-context window);
          end_char (W, T) int32: where an answer ending at the token ends, -1 if none may;
          example (W,) int32: the window's row in the batch;
          start_positions, end_positions (W,) int32: the answer's first and last token in the
            window, 0 ([CLS]) if the window does not hold all of it or there is none;
          answerable (W,) int32: whether the example's answer has tokens (the release labels
            answerability per question, not per window);
          answer_found (B,) bool: an answer was given and covers at least one piece.
        """
        batch = tf.shape(context, out_type=tf.int64)[0]
        query = tf.cast(self.tokenizer.tokenize(question), tf.int32)[:, :self.max_query_length]
        words, word_start, word_length, word_splits = context_words(context)
        pieces, piece_start, piece_end, can_start, can_end = self._pieces(words, word_start, word_length)
        ids = pieces.flat_values
        splits = tf.gather(pieces.row_splits, word_splits)  # (B + 1,): each context's pieces
        example_of_piece = tf.RaggedTensor.from_row_splits(ids, splits).value_rowids()
        total = splits[1:] - splits[:-1]

        # Windows: [CLS] query [SEP] pieces [start, start + length) [SEP].
        query_length = query.row_lengths()
        room = self.max_seq_length - query_length - 3
        stride = tf.minimum(room, self.doc_stride)
        count = (tf.maximum(total - room, 0) + stride - 1) // stride + 1
        example = tf.repeat(tf.range(batch), count)
        start = tf.ragged.range(count).flat_values * tf.gather(stride, example)
        length = tf.minimum(tf.gather(room, example), tf.gather(total, example) - start)
        windows = tf.size(example, out_type=tf.int64)
        window = tf.range(windows)

        # Max context: per context piece, the window scoring best (first on ties).
        longest = tf.reduce_max(tf.concat([total, tf.zeros([1], tf.int64)], 0))
        position = tf.range(longest)[None]
        inside = (position >= start[:, None]) & (position < (start + length)[:, None])
        score = (tf.cast(tf.minimum(position - start[:, None], (start + length - 1)[:, None] - position), tf.float64)
                 + 0.01 * tf.cast(length, tf.float64)[:, None])
        score = tf.where(inside, score, -np.inf)
        best = tf.gather(tf.math.unsorted_segment_max(score, example, batch), example)
        chosen = tf.where(inside & tf.equal(score, best), window[:, None], windows)
        max_context = tf.equal(tf.gather(tf.math.unsorted_segment_min(chosen, example, batch), example),
                               window[:, None])

        # Window rows of T columns: [CLS] query [SEP] context [start, start + length) [SEP] padding.
        column = tf.range(self.max_seq_length, dtype=tf.int64)[None]
        query_end = tf.gather(query_length, example)[:, None] + 1  # the first [SEP]'s column
        offset = column - query_end - 1  # position in the window's context span
        in_context = (offset >= 0) & (offset < length[:, None])
        last = tf.equal(offset, length[:, None])  # the second [SEP]
        piece = tf.where(in_context, tf.gather(splits, example)[:, None] + start[:, None] + offset,
                         tf.size(ids, out_type=tf.int64))

        def context_values(values, default):
            return tf.gather(tf.concat([values, tf.fill([1], tf.cast(default, values.dtype))], 0), piece)

        query_ids = tf.gather(query.to_tensor(0, shape=[None, self.max_query_length]), example)
        query_ids = tf.gather(query_ids, tf.broadcast_to(tf.clip_by_value(column - 1, 0, self.max_query_length - 1),
                                                         tf.shape(piece)), batch_dims=1)
        is_max = tf.gather(tf.concat([max_context, tf.zeros([windows, 1], tf.bool)], 1),
                           tf.where(in_context, start[:, None] + offset, longest), batch_dims=1)
        ids_of_context = tf.where(in_context, context_values(ids, 0), self.pad)
        features = {
            "input_ids": tf.where(tf.equal(column, 0), self.cls, tf.where(
                (column < query_end), query_ids, tf.where(tf.equal(column, query_end) | last, self.sep,
                                                          ids_of_context))),
            "input_mask": tf.cast(column <= query_end + 1 + length[:, None], tf.int32),
            "segment_ids": tf.cast(in_context | last, tf.int32),
            "start_char": tf.cast(tf.where(context_values(can_start, False) & is_max,
                                           context_values(piece_start, -1), -1), tf.int32),
            "end_char": tf.cast(tf.where(context_values(can_end, False), context_values(piece_end, -1), -1), tf.int32),
            "example": tf.cast(example, tf.int32),
        }

        # Labels: the pieces overlapping the answer's characters.
        answer_start, answer_end = tf.cast(answer_start, tf.int64), tf.cast(answer_end, tf.int64)
        index = tf.range(tf.size(ids, out_type=tf.int64)) - tf.gather(splits, example_of_piece)
        overlap = ((tf.gather(answer_start, example_of_piece) >= 0)
                   & (piece_end > tf.gather(answer_start, example_of_piece))
                   & (piece_start < tf.gather(answer_end, example_of_piece)))
        first = tf.math.unsorted_segment_min(tf.where(overlap, index, np.iinfo(np.int64).max), example_of_piece, batch)
        last = tf.math.unsorted_segment_max(tf.where(overlap, index, -1), example_of_piece, batch)
        found = last >= 0
        first, last, has = tf.gather(first, example), tf.gather(last, example), tf.gather(found, example)
        held = has & (first >= start) & (last < start + length)
        shift = tf.gather(query_length, example) + 2 - start
        features.update(start_positions=tf.cast(tf.where(held, first + shift, 0), tf.int32),
                        end_positions=tf.cast(tf.where(held, last + shift, 0), tf.int32),
                        answerable=tf.cast(has, tf.int32), answer_found=found)
        return features


def window_candidates(start_top_log_probs, start_top_index, end_log_probs, start_char, end_char,
                      max_answer_length: int, n: int) -> dict:
    """The n best valid spans of each window (W of them) from the span head's beam outputs.

    start_top_log_probs, start_top_index (W, k); end_log_probs (W, k, T); start_char, end_char
    (W, T) from `featurize`. A span is valid if its start may start and its end may end an answer,
    start <= end and end - start < max_answer_length tokens; its score is the start's plus the
    end's log-probability. Every end is considered for each beam start (the release keeps
    only each start's k likeliest ends before filtering). Returns score, start_log_prob,
    end_log_prob (W, n) float32 (-inf where fewer than n are valid) and start, end (W, n)
    int32 characters (-1 there), best first; n is capped at k x T.
    """
    seq = tf.shape(end_char)[1]
    if start_top_index.shape[1] is not None and end_char.shape[1] is not None:
        n = min(n, start_top_index.shape[1] * end_char.shape[1])
    start_of = tf.gather(start_char, start_top_index, batch_dims=1)  # (W, k)
    first = start_top_index[:, :, None]
    last = tf.range(seq)[None, None]
    valid = ((start_of >= 0)[:, :, None] & (end_char >= 0)[:, None] & (last >= first)
             & (last - first < max_answer_length))
    score = tf.where(valid, start_top_log_probs[:, :, None] + end_log_probs, -np.inf)
    top, pick = tf.math.top_k(tf.reshape(score, [tf.shape(score)[0], -1]), n)
    beam, end = pick // seq, pick % seq
    found = top > -np.inf
    return {"score": top,
            "start_log_prob": tf.where(found, tf.gather(start_top_log_probs, beam, batch_dims=1), -np.inf),
            "end_log_prob": tf.where(found, tf.gather(tf.gather(end_log_probs, beam, batch_dims=1), end,
                                                      batch_dims=2), -np.inf),
            "start": tf.where(found, tf.gather(start_of, beam, batch_dims=1), -1),
            "end": tf.where(found, tf.gather(end_char, end, batch_dims=1), -1)}


def merge_windows(candidates: dict, answerable_logits, example, num_examples) -> dict:
    """Each example's n best spans over its windows: candidates {name: (W, n)} from
    `window_candidates`, rows ordered by `example` (W,), every example with a window ->
    the same names (B, n); no_answer (B,): minus the highest answerable logit of its windows
    (the release's null score: its answerability logit is the "impossible" one)."""
    example = tf.cast(example, tf.int64)

    def per_example(values, default):
        rows = tf.RaggedTensor.from_value_rowids(values, example, nrows=tf.cast(num_examples, tf.int64))
        return rows.merge_dims(1, 2).to_tensor(default)

    top, pick = tf.math.top_k(per_example(candidates["score"], -np.inf), candidates["score"].shape[1])
    out = {"score": top}
    for name, default in (("start_log_prob", -np.inf), ("end_log_prob", -np.inf), ("start", -1), ("end", -1)):
        out[name] = tf.gather(per_example(candidates[name], default), pick, batch_dims=1)
    out["no_answer"] = -tf.math.unsorted_segment_max(answerable_logits, example, num_examples)
    return out
