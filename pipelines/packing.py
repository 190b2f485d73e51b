"""ELECTRA's example builder: tokenized sentences of one document -> examples.

Follows the released ELECTRA `build_pretraining_dataset.py`: sentences are
accumulated until a target length is reached or the document ends (never
across documents), then split into `[CLS] A [SEP] B [SEP]`.
"""
import hashlib
import random

SHORT_TARGET_PROB = 0.05  # example gets a random target length in [5, max]
MIN_SHORT_TARGET = 5
SINGLE_SEGMENT_PROB = 0.1  # example has no segment B
SECOND_SEGMENT_SWITCH_PROB = 0.5  # overflowing sentence still goes to A


def document_rng(seed: int, document_id: str) -> random.Random:
    """The rng for one document, from the global seed and the document id only
    (stable across processes and runners, unlike `hash`)."""
    digest = hashlib.sha256(f"{seed}\0{document_id}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _split_segments(sentences: list[list[int]], target_length: int, max_seq_length: int,
                    rng: random.Random) -> tuple[list[int], list[int]]:
    """Token ids of segments A and B (without [CLS]/[SEP]), truncated to fit.

    As in ELECTRA, a short sentence that comes after B has started may still
    join A, so A and B each keep the document order but B can precede A's end.
    """
    if rng.random() < SINGLE_SEGMENT_PROB:
        first_target = float("inf")
    else:
        first_target = (target_length - 3) // 2  # room for [CLS] and two [SEP]
    first, second = [], []
    for sentence in sentences:
        if (not first or len(first) + len(sentence) < first_target or
                (not second and len(first) < first_target and
                 rng.random() < SECOND_SEGMENT_SWITCH_PROB)):
            first += sentence
        else:
            second += sentence
    first = first[:max_seq_length - 2]
    second = second[:max(0, max_seq_length - len(first) - 3)]
    return first, second


def pack_document(sentences: list[list[int]], max_seq_length: int, cls_id: int, sep_id: int,
                  rng: random.Random) -> list[tuple[list[int], list[int]]]:
    """Packs one document's tokenized sentences into examples.

    Returns (input_ids, segment_ids) pairs, unpadded, each of length <=
    max_seq_length: `[CLS] A [SEP]` with segment 0, then `B [SEP]` with segment
    1 when B is non-empty. Empty sentences are dropped.
    """
    examples = []
    current, current_length, target_length = [], 0, max_seq_length
    for sentence in sentences:
        if not sentence:
            continue
        if not current:  # a new example starts
            target_length = max_seq_length
            if rng.random() < SHORT_TARGET_PROB:
                target_length = rng.randint(MIN_SHORT_TARGET, max_seq_length)
        current.append(sentence)
        current_length += len(sentence)
        if current_length >= target_length:
            examples.append(_make_example(current, target_length, max_seq_length,
                                          cls_id, sep_id, rng))
            current, current_length = [], 0
    if current:
        examples.append(_make_example(current, target_length, max_seq_length,
                                      cls_id, sep_id, rng))
    return examples


def _make_example(sentences, target_length, max_seq_length, cls_id, sep_id, rng):
    first, second = _split_segments(sentences, target_length, max_seq_length, rng)
    input_ids = [cls_id] + first + [sep_id]
    segment_ids = [0] * len(input_ids)
    if second:
        input_ids += second + [sep_id]
        segment_ids += [1] * (len(second) + 1)
    return input_ids, segment_ids


def pad_example(input_ids: list[int], segment_ids: list[int], max_seq_length: int
                ) -> tuple[list[int], list[int], list[int]]:
    """Pads to max_seq_length with 0 ([PAD] must be id 0). Returns
    (input_ids, input_mask, segment_ids), mask 1 on real tokens."""
    length = len(input_ids)
    if length > max_seq_length or len(segment_ids) != length:
        raise ValueError(f"example of {length} ids / {len(segment_ids)} segment ids does not "
                         f"fit max_seq_length={max_seq_length}")
    padding = [0] * (max_seq_length - length)
    return input_ids + padding, [1] * length + padding, segment_ids + padding
