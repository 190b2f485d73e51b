"""ELECTRA example packing: exact hand-derived outputs, invariants, rates."""
import inspect
import random
import sys

import pytest
import tensorflow as tf

from pipelines import packing, tf_records, tokenization

CLS, SEP = 2, 3


class ScriptedRng:
    """Returns queued values for random() / randint(); checks all are used."""

    def __init__(self, randoms, randints=()):
        self.randoms, self.randints = list(randoms), list(randints)

    def random(self):
        return self.randoms.pop(0)

    def randint(self, low, high):
        value = self.randints.pop(0)
        assert low <= value <= high
        return value

    def exhausted(self):
        return not self.randoms and not self.randints


S1, S2, S3, S4, S5 = [10, 11, 12], [20, 21, 22, 23], [30, 31, 32, 33, 34], [40, 41], [50]


def test_two_examples_derived_by_hand():
    # Example 1: target 12 (0.5 >= 0.05); S1+S2+S3 = 12 tokens reaches it.
    #   0.7 >= 0.1 -> two segments, first target (12-3)//2 = 4. S1 -> A (A empty);
    #   S2: 3+4 < 4 no, B empty and 3 < 4 and 0.3 < 0.5 -> A (7 tokens);
    #   S3: 7 >= 4 -> B without a draw; B truncated to 12-7-3 = 2 tokens.
    # Example 2: 0.01 < 0.05 -> target randint = 5; S4+S5 = 3 < 5, the document
    #   ends -> emitted; 0.05 < 0.1 -> single segment.
    rng = ScriptedRng([0.5, 0.7, 0.3, 0.01, 0.05], [5])
    examples = packing.pack_document([S1, [], S2, S3, S4, [], S5], 12, CLS, SEP, rng)
    assert examples == [
        ([CLS, 10, 11, 12, 20, 21, 22, 23, SEP, 30, 31, SEP], [0] * 9 + [1] * 3),
        ([CLS, 40, 41, 50, SEP], [0] * 5),
    ]
    assert rng.exhausted()


def test_overflowing_sentence_goes_to_b_when_coin_says_so():
    # As above but 0.6 >= 0.5: S2 -> B, then S3 -> B (B non-empty); B = 9
    # tokens truncated to 12-3-3 = 6.
    rng = ScriptedRng([0.5, 0.7, 0.6])
    examples = packing.pack_document([S1, S2, S3], 12, CLS, SEP, rng)
    assert examples == [([CLS, 10, 11, 12, SEP, 20, 21, 22, 23, 30, 31, SEP],
                         [0] * 5 + [1] * 7)]
    assert rng.exhausted()


def test_long_first_sentence_is_truncated_to_max_minus_two():
    rng = ScriptedRng([0.9, 0.5])  # target 8; two segments, first target 2
    examples = packing.pack_document([list(range(100, 120))], 8, CLS, SEP, rng)
    assert examples == [([CLS, 100, 101, 102, 103, 104, 105, SEP], [0] * 8)]


def test_empty_document_gives_no_examples_and_no_draws():
    rng = ScriptedRng([])
    assert packing.pack_document([[], []], 128, CLS, SEP, rng) == []


def _check_example(input_ids, segment_ids, max_seq_length):
    assert len(input_ids) == len(segment_ids) <= max_seq_length
    assert input_ids[0] == CLS and input_ids[-1] == SEP
    seps = [i for i, t in enumerate(input_ids) if t == SEP]
    assert len(seps) in (1, 2)
    assert segment_ids == [0] * (seps[0] + 1) + [1] * (len(input_ids) - seps[0] - 1)
    assert CLS not in input_ids[1:]


def _is_subsequence(part, whole):
    it = iter(whole)
    return all(token in it for token in part)


def test_invariants_on_random_documents():
    rng = random.Random(0)
    for doc in range(300):
        max_seq_length = rng.choice([8, 32, 128])
        base = 1000 * (doc + 1)  # tokens unique to this document
        sentences = [[base + rng.randrange(1000) for _ in range(rng.randint(0, 40))]
                     for _ in range(rng.randint(0, 30))]
        examples = packing.pack_document(sentences, max_seq_length, CLS, SEP,
                                         packing.document_rng(7, str(doc)))
        doc_tokens = [t for s in sentences for t in s]
        for input_ids, segment_ids in examples:
            _check_example(input_ids, segment_ids, max_seq_length)
            for segment in (0, 1):  # each segment keeps the document's order
                tokens = [t for t, g in zip(input_ids, segment_ids) if g == segment]
                assert _is_subsequence([t for t in tokens if t not in (CLS, SEP)], doc_tokens)
        content = [t for ids, _ in examples for t in ids if t not in (CLS, SEP)]
        assert all(base <= t < base + 1000 for t in content)  # never across documents
        assert len(content) <= len(doc_tokens)
        assert bool(examples) == any(sentences)


def test_without_truncation_every_token_is_kept():
    sentences = [[5 + i] * (1 + i % 4) for i in range(40)]  # <= 4 tokens each
    for seed in range(20):
        examples = packing.pack_document(sentences, 512, CLS, SEP, random.Random(seed))
        content = [t for ids, _ in examples for t in ids if t not in (CLS, SEP)]
        assert sorted(content) == [t for s in sentences for t in s]


def test_document_rng_is_stable_and_depends_on_seed_and_id():
    draws = lambda seed, doc: [packing.document_rng(seed, doc).random() for _ in range(3)]
    assert draws(1, "12") == draws(1, "12")
    assert draws(1, "12") != draws(2, "12")
    assert draws(1, "12") != draws(1, "13")
    # sha256-based, so fixed across processes, runs and machines (unlike hash()):
    assert packing.document_rng(12345, "12").randrange(10**6) == 167369


def test_single_segment_and_short_target_rates():
    # One-token sentences: a full-target example has exactly 128 ids, and for
    # any target >= 5 a two-segment example always has a non-empty B. So
    # "shorter than 128" <=> short target (except targets 126..128, 3 of the
    # 124 possible, which are indistinguishable) and "no B" <=> single segment.
    max_seq_length, per_doc = 128, 50
    short = single = total = 0
    for doc in range(200):
        examples = packing.pack_document([[7]] * (max_seq_length * per_doc), max_seq_length,
                                         CLS, SEP, packing.document_rng(1, str(doc)))
        for input_ids, segment_ids in examples[:-1]:  # the last one ends the document
            total += 1
            short += len(input_ids) < max_seq_length
            single += 1 not in segment_ids
    assert total > 9000
    assert short / total == pytest.approx(0.05 * 121 / 124, abs=0.01)
    assert single / total == pytest.approx(0.1, abs=0.015)


def test_pad_and_serialize():
    ids, mask, segments = packing.pad_example([CLS, 9, SEP, 8, SEP], [0, 0, 0, 1, 1], 8)
    assert ids == [CLS, 9, SEP, 8, SEP, 0, 0, 0]
    assert mask == [1, 1, 1, 1, 1, 0, 0, 0]
    assert segments == [0, 0, 0, 1, 1, 0, 0, 0]
    with pytest.raises(ValueError):
        packing.pad_example([CLS] * 9, [0] * 9, 8)
    record = tf_records.serialize_example([CLS, 9, SEP, 8, SEP], [0, 0, 0, 1, 1], 8)
    # Deterministic bytes (sorted feature names) whatever process serializes.
    assert record.index(b"input_ids") < record.index(b"input_mask") < record.index(b"segment_ids")
    parsed = tf.io.parse_single_example(
        record,
        {name: tf.io.FixedLenFeature([8], tf.int64)
         for name in ("input_ids", "input_mask", "segment_ids")})
    assert parsed["input_ids"].numpy().tolist() == ids
    assert parsed["input_mask"].numpy().tolist() == mask
    assert parsed["segment_ids"].numpy().tolist() == segments


class _DrawCounter(random.Random):
    """Counts short-target draws (randint) and single-segment decisions (the
    first draw of each _split_segments call) of the packer."""

    def __init__(self, seed):
        super().__init__(seed)
        self.short = self.single = self.examples = 0

    def randint(self, a, b):
        self.short += 1
        return super().randint(a, b)

    def random(self):
        value = super().random()
        caller = sys._getframe(1)
        if caller.f_code.co_name == "_split_segments" and caller.f_lineno == _DECISION_LINE:
            self.examples += 1
            self.single += value < packing.SINGLE_SEGMENT_PROB
        return value


_DECISION_LINE = next(i for i, line in enumerate(
    inspect.getsource(packing).splitlines(), 1) if "< SINGLE_SEGMENT_PROB" in line)


def test_invariants_and_rates_on_the_wikipedia_sample(bert_vocab, wiki_documents):
    tokenizer = tokenization.Tokenizer(bert_vocab, lowercase=True)
    cls, sep = tokenizer.special_ids["cls"], tokenizer.special_ids["sep"]
    documents = [(doc_id, tokenizer.tokenize_lines(lines)) for doc_id, lines in wiki_documents]
    short = single = total = no_b = 0
    for seed in range(3):
        for doc_id, sentences in documents:
            rng = _DrawCounter(packing.document_rng(seed, doc_id).random())
            examples = packing.pack_document(sentences, 128, cls, sep, rng)
            doc_tokens = [t for s in sentences for t in s]
            for input_ids, segment_ids in examples:
                assert len(input_ids) <= 128 and input_ids[0] == cls and input_ids[-1] == sep
                seps = [i for i, t in enumerate(input_ids) if t == sep]
                assert segment_ids == [0] * (seps[0] + 1) + [1] * (len(input_ids) - seps[0] - 1)
                for segment in (0, 1):  # document order, and only this document's tokens
                    part = [t for t, g in zip(input_ids, segment_ids)
                            if g == segment and t not in (cls, sep)]
                    assert _is_subsequence(part, doc_tokens)
                no_b += 1 not in segment_ids
            assert rng.examples == len(examples)
            short, single, total = short + rng.short, single + rng.single, total + len(examples)
    assert total > 12000
    assert short / total == pytest.approx(0.05, abs=0.006)  # 3 sigma at n = 12000
    assert single / total == pytest.approx(0.10, abs=0.009)
    assert no_b >= single  # single segment, or nothing left for B
