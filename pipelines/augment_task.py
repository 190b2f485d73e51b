"""Writes an augmented training file for task distillation (TinyBERT's data augmentation).

    python -m pipelines.augment_task --input=train.tsv --output=train_aug.tsv --text_columns=sentence
        --label_column=label --masked_lm=RUN [--variants=20 --probability=0.4 --candidates=15 --seed=0]

For each row of --input (CSV, TSV or JSON lines, read as trainers.finetune
reads it), the row itself and up to --variants (N) distinct variants of its
first text column: each word replaced with --probability (p) by one of the
--candidates (M) whole words that the masked LM of run --masked_lm (a
pre-trained run's generator, or an imported BERT masked LM) ranks highest
with that word masked in its text (pipelines/augmentation.py). Defaults are
the paper's (N 20, p 0.4, M 15). The output is a TSV with the text and label
columns (texts as words joined by spaces), which trainers.distill reads as
--train_file; the .json beside it (train_aug.json for train_aug.tsv) records
the settings and the counts, also printed.
A row's variants depend only on --seed and the row.
"""
from __future__ import annotations

import collections
import json
import os
import sys

import numpy as np

from core import cli, vocabulary
from core.files import check_directory
from pipelines.augmentation import is_word, variants, words

BATCH = 256  # masked texts per masked-LM call


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", required=True, help="the labelled training file")
    p.add_argument("--output", required=True, help="the augmented training file to write (.tsv)")
    p.add_argument("--text_columns", required=True, help="one or two columns; the first is augmented")
    p.add_argument("--label_column", required=True)
    p.add_argument("--masked_lm", required=True, help="a pre-trained run with a masked LM (its generator)")
    p.add_argument("--variants", type=int, default=20, help="N: variants drawn per row")
    p.add_argument("--probability", type=float, default=0.4, help="p: probability of replacing each word")
    p.add_argument("--candidates", type=int, default=15, help="M: the masked LM's top candidates per word")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max_seq_length", type=int, default=128, help="tokens of the masked texts (capped by the run's)")
    p.add_argument("--skip_bad_rows", action="store_true")
    args = p.parse_args(argv)
    if args.variants < 1 or args.candidates < 1 or not 0 <= args.probability <= 1:
        p.error("--variants and --candidates must be >= 1 and --probability in [0, 1]")
    if not args.output.endswith(".tsv"):
        p.error("--output must be a .tsv file")
    return args


def masked_texts(rows: list[list[str]], pieces: dict, special: dict, length: int):
    """For every eligible word of every row (lists of words): the row's ids with that word's pieces
    replaced by one [MASK], cut to `length` -> (ids (K, length), mask (K, length), positions (K,),
    [(row, word index)] of the K)."""
    ids, positions, where = [], [], []
    for r, row in enumerate(rows):
        row_pieces = [pieces[w] for w in row]
        start = 1
        for i, word in enumerate(row):
            if is_word(word) and start < length - 1:
                tail = [p for w in row_pieces[i + 1:] for p in w]
                sequence = ([special["cls"]] + [p for w in row_pieces[:i] for p in w] + [special["mask"]]
                            + tail)[:length - 1] + [special["sep"]]
                ids.append(sequence)
                positions.append(start)
                where.append((r, i))
            start += len(row_pieces[i])
    out = np.full((len(ids), length), special["pad"], np.int32)
    mask = np.zeros((len(ids), length), np.int32)
    for k, sequence in enumerate(ids):
        out[k, :len(sequence)] = sequence
        mask[k, :len(sequence)] = 1
    return out, mask, np.asarray(positions, np.int32), where


def candidate_words(pretrainer, vocab: list[str], rows, pieces, special, length: int, top: int) -> list[dict]:
    """Per row {word index: its `top` candidates}: the whole-word pieces the masked LM ranks
    highest at the masked word, the word itself left out."""
    import tensorflow as tf
    allowed = tf.constant([is_word(piece) for piece in vocab])

    @tf.function(input_signature=[tf.TensorSpec([None, length], tf.int32)] * 2 + [tf.TensorSpec([None], tf.int32)],
                 autograph=False)
    def ranked(ids, mask, positions):
        logits = pretrainer.generator_logits(ids, mask, tf.zeros_like(ids), positions[:, None], training=False)
        logits = tf.where(allowed, tf.cast(logits[:, 0], tf.float32), -np.inf)
        return tf.math.top_k(logits, top + 1).indices

    ids, mask, positions, where = masked_texts(rows, pieces, special, length)
    out = [{} for _ in rows]
    for start in range(0, len(where), BATCH):
        best = ranked(ids[start:start + BATCH], mask[start:start + BATCH], positions[start:start + BATCH]).numpy()
        for (r, i), choice in zip(where[start:start + BATCH], best):
            original = rows[r][i].lower()
            out[r][i] = [vocab[c] for c in choice if vocab[c].lower() != original][:top]
    return out


def augment(args) -> collections.Counter:
    """Reads --input, writes --output and its record; returns the counts."""
    from core import run_files
    from pipelines.tokenization import Tokenizer
    from trainers.model_loading import load_pretrainer
    from trainers.tasks.labelled_files import read_labelled_texts

    check_directory(os.path.dirname(os.path.abspath(args.output)), "--output's directory")
    if os.path.isdir(args.output):
        raise cli.UserError(f"--output {args.output} is a directory")
    columns = [c.strip() for c in args.text_columns.split(",") if c.strip()]
    if not 1 <= len(columns) <= 2:
        raise cli.UserError(f"--text_columns takes one or two columns, got {len(columns)}")
    data = read_labelled_texts(args.input, columns, args.label_column, skip_bad_rows=args.skip_bad_rows)
    settings = run_files.read_tokenizer(args.masked_lm)
    if settings.kind != vocabulary.WORDPIECE:
        raise cli.UserError(f"--masked_lm {args.masked_lm}: augmentation replaces words with WordPiece whole-word "
                            "pieces; this run's vocabulary is SentencePiece")
    pretrainer, _ = load_pretrainer(args.masked_lm)
    if pretrainer.generator is None:
        raise cli.UserError(f"--masked_lm {args.masked_lm} has no masked LM (its generator is a fixed distribution)")
    tokenizer = Tokenizer(os.path.join(args.masked_lm, settings.file), settings.lowercase)
    rows = [words(text) for text in data.texts_a]
    distinct = sorted({w for row in rows for w in row})
    pieces = dict(zip(distinct, tokenizer.tokenize_lines(distinct)))
    length = min(args.max_seq_length, settings.max_seq_length)
    candidates = candidate_words(pretrainer, tokenizer.vocab, rows, pieces, tokenizer.special_ids, length,
                                 args.candidates)
    counts = collections.Counter(rows=len(rows))
    lines = ["\t".join(columns + [args.label_column])]
    for r, row in enumerate(rows):
        rng = np.random.default_rng([args.seed, r])
        usable = {i: c for i, c in candidates[r].items() if c}
        counts["words"] += len(row)
        counts["eligible_words"] += len(usable)
        texts = [" ".join(row)] + variants(row, usable, args.variants, args.probability, rng, counts)
        counts["variants_written"] += len(texts) - 1
        rest = ([" ".join(data.texts_b[r].split())] if data.texts_b is not None else []) + [str(data.labels[r])]
        lines.extend("\t".join([text] + rest) for text in texts)
    counts["rows_written"] = len(lines) - 1
    temporary = args.output + ".tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(temporary, args.output)
    record = {"input": args.input, "masked_lm": args.masked_lm, "seed": args.seed, "variants": args.variants,
              "probability": args.probability, "candidates": args.candidates, "counts": dict(counts)}
    with open(os.path.splitext(args.output)[0] + ".json", "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2, sort_keys=True)
    return counts


def main(argv=None) -> int:
    args = parse_args(argv)
    counts = augment(args)
    print(f"{args.output}: {counts['rows']} rows -> {counts['rows_written']} ({counts['variants_written']} variants: "
          f"{counts['variants_drawn']} drawn, {counts['duplicates_dropped']} duplicates dropped); "
          f"{counts['eligible_words']} of {counts['words']} words had candidates, {counts['words_replaced']} "
          "replacements drawn")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
