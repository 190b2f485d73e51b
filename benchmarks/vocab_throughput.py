"""Speed, memory and quality of `pipelines.build_vocab`'s WordPiece learner; prints JSON.

    python -m benchmarks.vocab_throughput [--input=data/enwiki-sample.xml.bz2]
        [--vocab_size=8000] [--heldout_percent=5]
    python -m benchmarks.vocab_throughput --large --input='CORPUS/*.txt' --format=text \
        --vocab_size=30000 [--heldout_percent=1]

Default: the old learner (tensorflow-text's `bert_vocab_from_dataset` on
every sentence, held in a list, in a frequency-threshold search; kept here as
`learn_vocab_old`) and the new one (`build_vocab.count_words` then
`wordpiece_learner.learn_vocab`) side by side on the same documents (the demo
corpus by default: fetch it with `python -m pipelines.default_corpus
--cache_dir=data`), each timed in this process from reading to vocab
(imports excluded; the new learner also at the size the old one
reached); then `python -m pipelines.build_vocab` timed as a whole
command (start-up included). Quality: tokens per word of each vocab on the
documents `build_pretraining_data` holds out (`pretraining_data.split_of`;
words as the product's tokenizer sees them), tokenized by the product's
tokenizer, and the share of [UNK].

The command's figures: wall and CPU seconds (its processes together), peak
RSS of its largest process (getrusage) and of its whole process tree (sampled
every 0.2 s). --large: only the command, on a large corpus, and MB/s of input.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

import tensorflow as tf
from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

from benchmarks.machine import cpu_description
from core import vocabulary
from pipelines import (build_vocab, documents, formats, inputs, pretraining_data, tokenization,
                       wordpiece_learner)

# Runs a command and prints the peak RSS (KB) of its largest process, from getrusage. A small
# process of its own: a child's peak counts the memory of the process it was forked from.
_LAUNCHER = ("import resource, subprocess, sys\n"
             "code = subprocess.call(sys.argv[1:])\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.exit(code)")


def learn_vocab_old(lines: list[str], vocab_size: int, lowercase: bool) -> list[str]:
    """The replaced learner: tensorflow-text's, its threshold search bracketed
    by word counts (lower: the vocab_size-th word's count + 1; upper: the
    (vocab_size / 4)-th word's), the library's range if that bracket fails."""
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(lines, tf.string)).batch(1024)
    params = {"lower_case": lowercase}
    counts = sorted(learner.count_words(dataset.map(BasicTokenizer(**params).tokenize)).values(),
                    reverse=True)
    lower = counts[vocab_size - 1] + 1 if len(counts) >= vocab_size else 1
    upper = counts[max(1, vocab_size // 4) - 1] if len(counts) >= max(1, vocab_size // 4) else 1

    def learn(learn_params):
        return bert_vocab.bert_vocab_from_dataset(
            dataset, vocab_size=vocab_size, reserved_tokens=list(vocabulary.RESERVED_TOKENS),
            bert_tokenizer_params=params, learn_params=learn_params)

    vocab = learn({"lower_thresh": lower, "upper_thresh": max(upper, lower)})
    return vocab if len(vocab) <= vocab_size else learn({"lower_thresh": lower})


def heldout_paragraphs(units: list[formats.Unit], heldout_percent: float) -> list[str]:
    """Paragraphs of the documents build_pretraining_data holds out."""
    paragraphs = []
    for unit in units:
        for item in formats.read_unit(unit, lambda path: open(path, "rb"), 10_000_000):
            if (isinstance(item, documents.Document) and pretraining_data.split_of(
                    item.doc_id, heldout_percent) == pretraining_data.HELDOUT):
                paragraphs += formats.paragraphs(item)
    return paragraphs


def tokens_per_word(vocab: list[str], paragraphs: list[str], lowercase: bool,
                    directory: str, name: str) -> dict:
    """Tokens per word and [UNK] share of the product's tokenizer with `vocab`."""
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(vocabulary.vocab_text(vocab))
    ids = tokenization.make_text_tokenizer(path, lowercase).tokenize(
        tf.constant(paragraphs)).flat_values.numpy()
    words = sum(len(wordpiece_learner.split_words(p, lowercase)) for p in paragraphs)
    unk = vocab.index(vocabulary.UNK)
    return {"words": words, "tokens": len(ids), "tokens_per_word": len(ids) / words,
            "unk_fraction": float((ids == unk).mean())}


def _tree_rss_mb(pid: int) -> float:
    """Resident MB of a process and all its descendants (from /proc)."""
    children = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                children[int(f.read().rsplit(")", 1)[1].split()[1])].append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack += children[current]
        try:
            with open(f"/proc/{current}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total / 2**20


def run_command(args, output: str) -> dict:
    """Times `python -m pipelines.build_vocab` on args' corpus."""
    command = [sys.executable, "-m", "pipelines.build_vocab", *(f"--input={p}" for p in args.input),
               f"--output={output}", f"--vocab_size={args.vocab_size}",
               f"--heldout_percent={args.heldout_percent}", f"--format={args.format}",
               f"--workers={args.workers}"]
    start, peak, cpu = time.time(), 0.0, os.times()
    process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, *command],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    while process.poll() is None:
        peak = max(peak, _tree_rss_mb(process.pid))
        time.sleep(0.2)
    seconds = time.time() - start
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode})")
    *printed, max_rss_kb = process.stdout.read().strip().splitlines()
    return {"command": " ".join(command), "seconds": round(seconds, 2),
            "cpu_seconds": round(sum(os.times()[2:4]) - sum(cpu[2:4]), 2),
            "peak_rss_mb_largest_process": round(int(max_rss_kb) / 1024, 1),
            "peak_rss_mb_process_tree": round(peak, 1),
            "vocab_size": len(tokenization.load_vocab(output)), "output": printed[-2:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", default=None,
                        help="file glob, repeatable (default: data/enwiki-sample.xml.bz2)")
    parser.add_argument("--format", default="auto")
    parser.add_argument("--vocab_size", type=int, default=8000)
    parser.add_argument("--heldout_percent", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--large", action="store_true",
                        help="only time the command (seconds, MB/s, peak RSS)")
    args = parser.parse_args()
    args.input = args.input or ["data/enwiki-sample.xml.bz2"]
    try:
        sizes = inputs.match_patterns(args.input)
    except FileNotFoundError as error:
        raise SystemExit(f"{error}; the demo corpus comes from "
                         "`python -m pipelines.default_corpus --cache_dir=data`")
    result = {**cpu_description(), "inputs": args.input,
              "input_mb": round(sum(sizes.values()) / 1e6, 1), "vocab_size": args.vocab_size,
              "heldout_percent": args.heldout_percent, "workers": args.workers}
    with tempfile.TemporaryDirectory() as directory:
        if args.large:
            result["new"] = run_command(args, os.path.join(directory, "vocab.txt"))
            result["new"]["mb_per_s"] = round(result["input_mb"] / result["new"]["seconds"], 2)
            print(json.dumps(result, indent=1))
            return
        units = build_vocab.plan_units(sizes, args.format)
        reading = build_vocab.Reading(args.heldout_percent)
        seconds, cpu, vocabs = {}, {}, {}
        start, cpu_start = time.time(), time.process_time()
        counts = build_vocab.count_words(units, reading, True, args.workers,
                                         collections.Counter())
        vocabs["new"] = wordpiece_learner.learn_vocab(counts, args.vocab_size)
        seconds["new"], cpu["new"] = time.time() - start, time.process_time() - cpu_start
        start, cpu_start = time.time(), time.process_time()
        lines = list(build_vocab.iter_sentences(units, reading, collections.Counter()))
        vocabs["old"] = learn_vocab_old(lines, args.vocab_size, lowercase=True)
        seconds["old"], cpu["old"] = time.time() - start, time.process_time() - cpu_start
        # The old search may stop below vocab_size: the new learner at the old one's size too.
        vocabs["new_at_old_size"] = wordpiece_learner.learn_vocab(counts, len(vocabs["old"]))
        paragraphs = heldout_paragraphs(units, args.heldout_percent)
        for name, vocab in vocabs.items():
            result[name] = {"vocab_size": len(vocab), **tokens_per_word(
                vocab, paragraphs, True, directory, f"{name}.txt")}
            if name in seconds:  # this process's CPU only (no worker processes on one unit)
                result[name].update(seconds=round(seconds[name], 2),
                                    cpu_seconds=round(cpu[name], 2))
        result["speedup"] = round(seconds["old"] / seconds["new"], 1)
        for name in ("new", "new_at_old_size"):
            result[f"tokens_per_word_relative_difference_{name}_vs_old"] = round(
                result[name]["tokens_per_word"] / result["old"]["tokens_per_word"] - 1, 4)
        result["heldout_paragraphs"] = len(paragraphs)
        result["new_command"] = run_command(args, os.path.join(directory, "command.txt"))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
