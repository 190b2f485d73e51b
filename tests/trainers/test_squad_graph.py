"""SQuAD featurization and span search in TensorFlow ops (trainers/tasks/squad_graph.py)."""
import numpy as np
import pytest
import tensorflow as tf

from configs import TaskConfig
from pipelines.tokenization import Tokenizer
from trainers.tasks.squad_graph import SquadFeaturizer, answer_texts, merge_windows, window_candidates

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = SPECIAL + [f"w{i}" for i in range(59)] + ["(", ")", ".", "caf", "##e"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    tokenizer = Tokenizer(str(path), lowercase=True)
    tokenizer.featurizers = {}  # one per task setting (each traces its graph once)
    return tokenizer


def featurize(tokenizer, questions, contexts, answers=None, **task):
    task = TaskConfig(name="squad_v1", **{"max_seq_length": 32, "max_query_length": 4, **task})
    starts = [a[0] if a else -1 for a in answers] if answers else [-1] * len(questions)
    ends = [a[1] if a else -1 for a in answers] if answers else [-1] * len(questions)
    if task not in tokenizer.featurizers:
        tokenizer.featurizers[task] = SquadFeaturizer.from_tokenizer(tokenizer, task)
    featurizer = tokenizer.featurizers[task]
    out = featurizer.featurize(tf.constant(questions), tf.constant(contexts), tf.constant(starts, tf.int32),
                               tf.constant(ends, tf.int32))
    return {k: v.numpy() for k, v in out.items()}


def release_windows(tokenizer, question, words, answer_words, seq, query, stride):
    """The ELECTRA release's windows (finetune/qa/qa_tasks.py featurize), written out plainly:
    [(ids, segment ids, max-context flags of the context tokens, start, end position)]."""
    cls, sep = tokenizer.special_ids["cls"], tokenizer.special_ids["sep"]
    q = tokenizer.tokenize_lines([question])[0][:query]
    pieces, first_piece = [], []
    for word, word_pieces in zip(words, tokenizer.tokenize_lines(words)):
        first_piece.append(len(pieces))
        pieces += word_pieces
    room = seq - len(q) - 3
    spans, start = [], 0
    while start < len(pieces):
        length = min(len(pieces) - start, room)
        spans.append((start, length))
        if start + length == len(pieces):
            break
        start += min(length, stride)

    def is_max_context(index, position):
        scores = [(min(position - s, s + n - 1 - position) + 0.01 * n, i) for i, (s, n) in enumerate(spans)
                  if s <= position < s + n]
        return max(scores, key=lambda x: (x[0], -x[1]))[1] == index

    a_start = first_piece[answer_words[0]]
    a_end = first_piece[answer_words[1] + 1] - 1 if answer_words[1] + 1 < len(words) else len(pieces) - 1
    out = []
    for i, (s, n) in enumerate(spans):
        ids = [cls] + q + [sep] + pieces[s:s + n] + [sep]
        segments = [0] * (len(q) + 2) + [1] * (n + 1)
        held = s <= a_start and a_end < s + n
        positions = (a_start - s + len(q) + 2, a_end - s + len(q) + 2) if held else (0, 0)
        out.append((ids, segments, [is_max_context(i, p) for p in range(s, s + n)], positions))
    return out


def test_windows_and_answer_positions_equal_the_release_for_every_stride(tokenizer):
    rng = np.random.default_rng(0)
    for seq, stride in ((32, 128), (12, 2)):
        questions, contexts, answers, expected = [], [], [], []
        for _ in range(12):
            words = [f"w{i}" if i < 59 else "(w7)." for i in rng.integers(0, 62, int(rng.integers(1, 40)))]
            question = " ".join(f"w{i}" for i in rng.integers(0, 59, int(rng.integers(1, 7))))
            first = int(rng.integers(0, len(words)))
            last = min(len(words) - 1, first + int(rng.integers(0, 3)))
            context = " ".join(words)
            start = len(" ".join(words[:first])) + (1 if first else 0)
            answers.append((start, start + len(" ".join(words[first:last + 1]))))
            questions.append(question)
            contexts.append(context)
            expected.append(release_windows(tokenizer, question, words, (first, last), seq, 4, stride))
        out = featurize(tokenizer, questions, contexts, answers, max_seq_length=seq, doc_stride=stride)
        assert out["answer_found"].all()
        np.testing.assert_array_equal(np.bincount(out["example"], minlength=12), [len(e) for e in expected])
        rows = iter(range(len(out["example"])))
        for windows in expected:
            for ids, segments, max_context, positions in windows:
                row = next(rows)
                n = len(ids)
                assert out["input_ids"][row, :n].tolist() == ids and (out["input_ids"][row, n:] == 0).all()
                assert out["segment_ids"][row, :n].tolist() == segments and out["input_mask"][row].sum() == n
                context = slice(n - 1 - len(max_context), n - 1)
                assert ((out["start_char"][row, context] >= 0) == max_context).all()
                assert (out["end_char"][row, context] >= 0).all()
                assert (out["start_positions"][row], out["end_positions"][row]) == positions
        # Every piece may start an answer in exactly one window.
        for example in range(12):
            starts = out["start_char"][out["example"] == example]
            owned = [x for x in starts.ravel() if x >= 0]
            assert len(owned) == len(set(owned))


def test_token_offsets_are_characters_of_the_original_context(tokenizer):
    context = "w1 (w3).\u00a0Caf\u00e9\tCafe\u0301 na\u00efve 😀w7\u202fw8\n w9"
    out = featurize(tokenizer, ["w1"], [context])
    assert len(out["example"]) == 1
    ids = out["input_ids"][0][out["segment_ids"][0] == 1][:-1]
    starts = out["start_char"][0][out["segment_ids"][0] == 1][:-1]
    ends = out["end_char"][0][out["segment_ids"][0] == 1][:-1]
    pieces = [VOCAB[i] for i in ids]
    assert pieces == ["w1", "(", "w3", ")", ".", "caf", "##e", "caf", "##e", "[UNK]", "[UNK]", "w8", "w9"]
    # Pieces whose lengths add up to their word's map to their own characters; one unknown
    # piece takes the rest of its word; "Cafe\u0301" (5 characters, 4 after normalisation) falls back to
    # the whole word: its first piece may only start, its last only end, an answer.
    cafe = context.index("Cafe\u0301")
    expected = [(0, 2), (3, 4), (4, 6), (6, 7), (7, 8), (9, 12), (12, 13), (cafe, -1), (-1, cafe + 5),
                (context.index("na"), context.index("na") + 5), (context.index("😀"), context.index("😀") + 3),
                (context.index("w8"), context.index("w8") + 2), (context.index("w9"), len(context))]
    assert list(zip(starts.tolist(), ends.tolist())) == expected
    assert [context[s:e] for s, e in expected if s >= 0 and e >= 0] == [
        "w1", "(", "w3", ")", ".", "Caf", "\u00e9", "na\u00efve", "😀w7", "w8", "w9"]


def test_answers_are_found_by_characters_and_a_missing_one_is_reported(tokenizer):
    context = "w1 (w3). w4 \u200b w5"
    answers = [(context.index("w3"), context.index("w3") + 2),  # inside a word: its own piece
               (context.index("w4"), context.index("w5") + 2),  # across a word of no pieces
               (context.index("\u200b"), context.index("\u200b") + 1),  # covers no piece
               None]
    out = featurize(tokenizer, ["w1"] * 4, [context] * 4, answers)
    assert out["answer_found"].tolist() == [True, True, False, False]
    # [CLS] w1 [SEP] | w1 ( w3 ) . w4 w5 [SEP]
    assert out["start_positions"].tolist() == [5, 8, 0, 0] and out["end_positions"].tolist() == [5, 9, 0, 0]
    assert out["answerable"].tolist() == [1, 1, 0, 0]


def test_an_empty_context_gets_one_window_without_context_tokens(tokenizer):
    out = featurize(tokenizer, ["w1 w2", ""], ["", "w3"])
    assert out["example"].tolist() == [0, 1]
    assert out["input_ids"][0, :6].tolist() == [2, 6, 7, 3, 3, 0] and out["input_mask"][0].sum() == 5
    assert (out["start_char"] < 0).all(axis=1).tolist() == [True, False]


def test_span_search_picks_the_best_valid_span_across_windows():
    # Two windows of one context "w1 w2 w3 w4 w5 w6" (characters 0, 3, 6, 9, 12, 15), T = 8:
    # window 0: [CLS] q [SEP] w1 w2 w3 w4 [SEP], window 1: [CLS] q [SEP] w3 w4 w5 w6 [SEP];
    # w3 may start an answer in window 0 only, w4 in window 1 only (max context).
    context = "w1 w2 w3 w4 w5 w6"
    start_char = np.array([[-1, -1, -1, 0, 3, 6, -1, -1], [-1, -1, -1, -1, 9, 12, 15, -1]], np.int32)
    end_char = np.array([[-1, -1, -1, 2, 5, 8, 11, -1], [-1, -1, -1, 8, 11, 14, 17, -1]], np.int32)
    log = np.log
    # Beam starts per window (k = 3) with their log-probabilities, and end log-probabilities.
    start_top_index = np.array([[1, 5, 3], [3, 5, 4]], np.int32)
    start_top_log_probs = log(np.array([[0.5, 0.3, 0.2], [0.6, 0.25, 0.15]], np.float32))
    end = np.full((2, 3, 8), 1e-3, np.float32)
    end[0, 0, 4] = 0.9  # start at a question token: invalid
    end[0, 1, 4] = 0.8  # end (w2) before start (w3): invalid
    end[0, 1, 6] = 0.1  # w3 .. w4: valid, 0.3 * 0.1 = 0.03
    end[0, 2, 3] = 0.5  # w1 .. w1: valid, 0.2 * 0.5 = 0.1
    end[1, 0, 6] = 0.9  # start w3 in window 1: not its max-context window: invalid
    end[1, 1, 6] = 0.7  # w5 .. w6: valid, 0.25 * 0.7 = 0.175 (the best)
    end[1, 2, 4] = 0.4  # w4 .. w4: valid, 0.15 * 0.4 = 0.06
    candidates = window_candidates(tf.constant(start_top_log_probs), tf.constant(start_top_index),
                                   tf.constant(log(end)), tf.constant(start_char), tf.constant(end_char),
                                   max_answer_length=3, n=4)
    spans = {k: v.numpy() for k, v in merge_windows(candidates, tf.constant([-1.5, 0.5]), tf.constant([0, 0]),
                                                    1).items()}
    np.testing.assert_allclose(np.exp(spans["score"][0, :3]), [0.175, 0.1, 0.06], rtol=1e-5)
    assert spans["start"][0].tolist()[:3] == [12, 0, 9] and spans["end"][0].tolist()[:3] == [17, 2, 11]
    np.testing.assert_allclose(np.exp(spans["start_log_prob"][0, 0]), 0.25, rtol=1e-5)
    np.testing.assert_allclose(spans["no_answer"], [-0.5])
    texts = answer_texts(tf.constant([context] * 3), tf.constant(spans["start"][0, :3]),
                         tf.constant(spans["end"][0, :3]))
    assert [t.decode() for t in texts.numpy()] == ["w5 w6", "w1", "w4"]
    # max_answer_length 1 leaves spans of one token only: w1, w4, then w3 (0.3 * 1e-3) ...
    one = window_candidates(tf.constant(start_top_log_probs), tf.constant(start_top_index), tf.constant(log(end)),
                            tf.constant(start_char), tf.constant(end_char), max_answer_length=1, n=4)
    assert one["start"].numpy()[:, :2].tolist() == [[0, 6], [9, 12]]
    assert one["end"].numpy()[:, :2].tolist() == [[2, 8], [11, 14]]
    assert np.isinf(one["score"].numpy()[0, 2:]).all() and one["start"].numpy()[0, 2:].tolist() == [-1, -1]


def test_sentencepiece_pieces_map_to_the_characters_they_cover(tmp_path):
    from pipelines import build_vocab
    rng = np.random.default_rng(0)
    lines = [" ".join(f"w{i}" for i in rng.integers(0, 59, 12)) + " (café). naïve" for _ in range(2000)]
    (tmp_path / "spm.model").write_bytes(build_vocab.learn_sentencepiece(lines, 30, lowercase=True))
    tokenizer = Tokenizer(str(tmp_path / "spm.model"), lowercase=True)
    tokenizer.featurizers = {}
    context = "W1 w2 (Café). naïve w58\u00a0w3 \u2603x"
    answer = (context.index("Café"), context.index("Café") + 4)
    out = featurize(tokenizer, ["w1"], [context], [answer], max_seq_length=48)
    ids, starts, ends = (out[k][0][out["segment_ids"][0] == 1][:-1] for k in ("input_ids", "start_char", "end_char"))
    # Each piece with text covers its own characters (U+2581 marks a word's start, "\u2581" alone covers
    # nothing and may neither start nor end an answer); together they cover every word.
    covered = ""
    for piece, start, end in zip((tokenizer.vocab[i] for i in ids), starts, ends):
        text = piece.removeprefix("\u2581")
        assert (start >= 0) == (end >= 0) == (text != "")
        if piece != "[UNK]":
            assert context[start:end].lower() == text
        covered += context[start:end]
    assert covered == "".join(context.split())
    shift = int(((out["segment_ids"][0] == 0) & (out["input_mask"][0] == 1)).sum())  # [CLS] question [SEP]
    assert (starts[out["start_positions"][0] - shift], ends[out["end_positions"][0] - shift]) == answer
