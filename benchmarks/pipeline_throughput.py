"""Throughput and memory of `pipelines.build_pretraining_data`; prints JSON.

    python benchmarks/pipeline_throughput.py [--cache_dir=data] [--rss_mb=64,256]
        [--read_rss_mb=1024]

1. The Wikipedia sample (206 pages) through the Beam job with BERT's uncased
   vocab, DirectRunner with 1 worker and with 2 (multi_processing), and in
   the same run a single-process pure-Python path: the same reader, cleaning
   and sentence splitter, then tf-models-official's FullTokenizer, packing and
   serialization. tokens/s and documents/s are wall-clock; `per_core_speedup`
   divides the job's rate by its worker count and by the pure path's rate.
2. Peak RSS (sum over the job's process tree, sampled every 0.2 s) of the
   whole job with 2 workers on generated plain text of each --rss_mb size
   (Botchan paragraphs, each document made unique), and peak RSS of the read
   stage alone (read + dedup fingerprint) on --read_rss_mb of it.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pipelines import (default_corpus, documents, formats, packing,  # noqa: E402
                       pretraining_data, sentences)


def _job(inputs, vocab, output_dir, workers, fmt="auto"):
    """Runs the job in a subprocess; returns (seconds, manifest, peak tree RSS MB)."""
    command = [sys.executable, "-m", "pipelines.build_pretraining_data", f"--input={inputs}",
               f"--output_dir={output_dir}", f"--vocab={vocab}", f"--format={fmt}",
               "--max_seq_length=128", "--num_shards=8", "--heldout_percent=1",
               f"--direct_num_workers={workers}"]
    if workers > 1:
        command.append("--direct_running_mode=multi_processing")
    start = time.time()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=os.path.join(os.path.dirname(__file__), ".."))
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_mb(process.pid))
        time.sleep(0.2)
    seconds = time.time() - start
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode})")
    with open(os.path.join(output_dir, "manifest.json")) as f:
        return seconds, json.load(f), peak


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of pid and all its descendants, in MB."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        try:
            with open(f"/proc/{current}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total / 1e6


def _pure_python(path: str, vocab: str) -> dict:
    """Single process: reader + cleaning + FullTokenizer + packing + serialize."""
    from official.nlp.tools import tokenization as reference
    tokenizer = reference.FullTokenizer(vocab, do_lower_case=True)
    cls, sep = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    start = time.time()
    size = os.path.getsize(path)
    docs = tokens = clean_seconds = 0
    unit = formats.Unit(path, formats.detect_format(path), 0, size, size)
    for item in formats.read_unit(unit, lambda p: open(p, "rb"), 10**7):
        if not isinstance(item, documents.Document):
            continue
        clean_start = time.time()
        lines = [s for p in formats.paragraphs(item) for s in sentences.split_sentences(p)]
        clean_seconds += time.time() - clean_start
        ids = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line)) for line in lines]
        examples = packing.pack_document(ids, 128, cls, sep,
                                         packing.document_rng(12345, item.doc_id))
        for input_ids, segment_ids in examples:
            packing.serialize_example(input_ids, segment_ids, 128)
        docs += bool(examples)
        tokens += sum(len(input_ids) for input_ids, _ in examples)
    seconds = time.time() - start
    return {"seconds": round(seconds, 2), "documents": docs, "tokens": tokens,
            "tokens_per_s": round(tokens / seconds), "documents_per_s": round(docs / seconds, 2),
            "cleaning_seconds": round(clean_seconds, 2)}


def _generate(path: str, megabytes: float, book: str) -> None:
    """Plain text: 10-line documents of the book, each prefixed by a unique line."""
    with open(book, encoding="utf-8-sig") as f:
        lines = [line.strip() for line in f if line.strip()]
    blocks = [" \n".join(lines[i:i + 10]) for i in range(0, len(lines), 10)]
    written, n = 0, 0
    with open(path, "w", encoding="utf-8") as out:
        while written < megabytes * 1e6:
            text = f"Document number {n}.\n{blocks[n % len(blocks)]}\n\n"
            written += out.write(text)
            n += 1


def _read_stage_rss(path: str) -> dict:
    """Reads and fingerprints every document in this process; peak RSS."""
    size = os.path.getsize(path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    start, docs = time.time(), 0
    for unit in formats.plan_units(path, "text", size, 64 << 20, lambda p: open(p, "rb")):
        for item in formats.read_unit(unit, lambda p: open(p, "rb"), 10**7):
            pretraining_data.fingerprint(item.text)
            docs += 1
    return {"corpus_mb": round(size / 1e6), "documents": docs,
            "seconds": round(time.time() - start, 1),
            "peak_rss_mb_before": round(before),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache_dir", default="data")
    parser.add_argument("--rss_mb", default="64,256", help="comma-separated corpus sizes")
    parser.add_argument("--read_rss_mb", type=float, default=1024)
    args = parser.parse_args()
    wiki = default_corpus.fetch(args.cache_dir, default_corpus.ENWIKI)
    vocab = default_corpus.fetch(args.cache_dir, default_corpus.BERT_VOCAB)
    book = default_corpus.fetch(args.cache_dir, default_corpus.BOTCHAN)
    result = {"corpus": "enwiki-sample.xml.bz2 (206 pages)", "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        print("pure-Python path...", file=sys.stderr, flush=True)
        pure = _pure_python(wiki, vocab)
        result["pure_python_full_tokenizer"] = pure
        for workers in (1, 2):
            print(f"Beam job, {workers} worker(s)...", file=sys.stderr, flush=True)
            seconds, manifest, peak = _job(wiki, vocab, os.path.join(tmp, f"w{workers}"), workers)
            rate = manifest["tokens"] / seconds
            result[f"beam_{workers}_workers"] = {
                "seconds": round(seconds, 2), "documents": manifest["documents_written"],
                "tokens": manifest["tokens"], "tokens_per_s": round(rate),
                "documents_per_s": round(manifest["documents_written"] / seconds, 2),
                "peak_rss_mb": round(peak),
                "per_core_speedup": round(rate / workers / pure["tokens_per_s"], 2)}
        result["peak_rss"] = []
        for megabytes in [float(m) for m in args.rss_mb.split(",") if m]:
            path = os.path.join(tmp, f"gen{megabytes:g}.txt")
            _generate(path, megabytes, book)
            print(f"Beam job, 2 workers, {megabytes:g} MB of text...", file=sys.stderr,
                  flush=True)
            seconds, manifest, peak = _job(path, vocab, os.path.join(tmp, "gen"), 2, "text")
            result["peak_rss"].append({
                "corpus_mb": megabytes, "seconds": round(seconds, 1),
                "documents": manifest["documents_written"], "tokens": manifest["tokens"],
                "tokens_per_s": round(manifest["tokens"] / seconds),
                "peak_rss_mb_process_tree": round(peak)})
            os.remove(path)
        if args.read_rss_mb:
            path = os.path.join(tmp, "read.txt")
            _generate(path, args.read_rss_mb, book)
            print(f"read stage on {args.read_rss_mb:g} MB...", file=sys.stderr, flush=True)
            result["read_stage_rss"] = _read_stage_rss(path)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
