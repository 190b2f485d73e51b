"""Throughput and memory of `pipelines.build_pretraining_data`; prints JSON.

    python benchmarks/pipeline_throughput.py [--cache_dir=data] [--rss_mb=64,256]
        [--read_rss_mb=1024]

1. The Wikipedia sample (206 pages) with BERT's uncased vocab, through
   - the Beam job (DirectRunner, 1 worker, then 2 with multi_processing), and
   - in the same run, a single-process pure-Python path doing the same work:
     the same reader, wikitext cleaning (regex pre-pass, then
     mwparserfromhell), sentence splitter, then tf-models-official's FullTokenizer one sentence at a
     time, the same packing and serialization.
   The job reads the sample re-compressed as Wikipedia's multistream dumps
   are (20 pages per bz2 stream, same text) with --split_mb=0.25, so that it
   is cut into several work units and 2 workers can share it; the original
   is one bz2 stream, one unit, which a second worker could not help with.
   Both are timed as whole commands (a subprocess each, interpreter start-up
   and imports included), wall-clock and CPU (user + system of the process
   tree). `per_core_speedup` = job tokens/s / workers / pure tokens/s (the
   target is >= 5); `per_core_speedup_cpu` compares tokens per CPU-second.
2. Where the time goes: `stages_s` (wall) and `stages_cpu_s` of each path,
   measured in-process (the job's stages run by the same library functions
   without Beam); `start_up_s` / `start_up_and_beam_s` is the rest of the
   command's time (interpreter, imports, and for the job Beam itself). On a
   shared machine (see `load_average_1min_at_start`) the CPU figures are the
   steadier ones.
   Wikitext cleaning is the same code on both sides and bounds the ratio, so
   `excluding_wikitext_cleaning` gives, separately labelled, each path's rate
   with its cleaning seconds subtracted from its wall time, and the
   tokenize + pack + serialize rate of each path alone.
3. Peak RSS (sum over the job's process tree, sampled every 0.2 s) of the
   whole job with 2 workers on generated plain text of each --rss_mb size
   (Botchan paragraphs, each document made unique), and peak RSS of the read
   stage alone (read + dedup fingerprint) on --read_rss_mb of it.
"""
import argparse
import bz2
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

# Only what the pure path needs at import time (no Beam); the job's modules
# are imported where used.
from pipelines import default_corpus, documents, formats, packing, sentences  # noqa: E402

_SPLIT_MB = 0.25  # work units of the multistream sample for the job (about 7)


def _timed(command: list[str]) -> tuple[float, float, float, bytes]:
    """Runs a command; (wall seconds, CPU seconds of its process tree, peak
    tree RSS MB, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               cwd=os.path.join(os.path.dirname(__file__), ".."))
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_mb(process.pid))
        time.sleep(0.2)
    seconds = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode})")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, peak, process.stdout.read()


def _job(inputs, vocab, output_dir, workers, fmt="auto", split_mb=64):
    """Runs the job in a subprocess; returns (seconds, CPU seconds, manifest,
    peak tree RSS MB)."""
    command = [sys.executable, "-m", "pipelines.build_pretraining_data", f"--input={inputs}",
               f"--output_dir={output_dir}", f"--vocab={vocab}", f"--format={fmt}",
               "--max_seq_length=128", "--num_shards=8", "--heldout_percent=1",
               f"--direct_num_workers={workers}", f"--split_mb={split_mb}"]
    if workers > 1:
        command.append("--direct_running_mode=multi_processing")
    seconds, cpu, peak, _ = _timed(command)
    with open(os.path.join(output_dir, "manifest.json")) as f:
        return seconds, cpu, json.load(f), peak


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


def _articles(path: str):
    size = os.path.getsize(path)
    unit = formats.Unit(path, formats.detect_format(path), 0, size, size)
    return (d for d in formats.read_unit(unit, lambda p: open(p, "rb"), 10**7)
            if isinstance(d, documents.Document))


class _Stages:
    """Wall and CPU seconds (this process, all threads) per named stage."""

    def __init__(self):
        self.seconds, self.cpu = {}, {}

    def __call__(self, name, function, *args):
        start, cpu = time.perf_counter(), time.process_time()
        result = function(*args)
        self.seconds[name] = self.seconds.get(name, 0) + time.perf_counter() - start
        self.cpu[name] = self.cpu.get(name, 0) + time.process_time() - cpu
        return result

    def report(self, docs: int, tokens: int) -> dict:
        return {"documents": docs, "tokens": tokens,
                "stages_s": {k: round(v, 2) for k, v in self.seconds.items()},
                "stages_cpu_s": {k: round(v, 2) for k, v in self.cpu.items()}}


def _pack_and_serialize(doc_ids, ids_per_doc, cls, sep):
    """Packs and serializes every document; (documents with examples, tokens)."""
    docs = tokens = 0
    for doc_id, ids in zip(doc_ids, ids_per_doc):
        examples = packing.pack_document(ids, 128, cls, sep, packing.document_rng(12345, doc_id))
        for input_ids, segment_ids in examples:
            packing.serialize_example(input_ids, segment_ids, 128)
        docs += bool(examples)
        tokens += sum(len(input_ids) for input_ids, _ in examples)
    return docs, tokens


def _cleaned(stages, path):
    """(doc ids, sentences per document) of the articles, timed by stage."""
    doc_ids, lines = [], []
    for document in stages("read", list, _articles(path)):
        paragraphs = stages("clean_wikitext", formats.paragraphs, document)
        doc_ids.append(document.doc_id)
        lines.append(stages("split_sentences", lambda: [
            s for p in paragraphs for s in sentences.split_sentences(p)]))
    return doc_ids, lines


def _pure_python(path: str, vocab: str) -> dict:
    """Single process: reader, cleaning, FullTokenizer per sentence, packing,
    serialization; stage seconds and counts."""
    stages = _Stages()
    from official.nlp.tools import tokenization as reference
    tokenizer = stages("load_tokenizer", reference.FullTokenizer, vocab, True)
    doc_ids, lines = _cleaned(stages, path)
    ids = stages("tokenize", lambda: [[tokenizer.convert_tokens_to_ids(tokenizer.tokenize(s))
                                       for s in doc] for doc in lines])
    docs, tokens = stages("pack_serialize", _pack_and_serialize, doc_ids, ids,
                          tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"])
    return stages.report(docs, tokens)


def _job_stages(path: str, vocab: str) -> dict:
    """The job's work on one unit, stage by stage, in this process without Beam:
    the dedup pass (read + fingerprint), then read, clean, split, tokenize in
    batches of the job's size, pack and serialize."""
    from pipelines import pretraining_data, tokenization
    stages = _Stages()
    tokenizer = stages("load_tokenizer", tokenization.load_tokenizer, vocab, True)
    tokenizer.tokenize_lines(["warm up"])  # traces the TF function (as the job's setup does)
    stages("dedup_read_fingerprint", lambda: [pretraining_data.fingerprint(d.text)
                                              for d in _articles(path)])
    doc_ids, lines = _cleaned(stages, path)
    flat = [s for doc in lines for s in doc]
    batch = pretraining_data._BATCH_LINES
    flat_ids = stages("tokenize", lambda: [
        ids for i in range(0, len(flat), batch)
        for ids in tokenizer.tokenize_lines(flat[i:i + batch])])
    ids, start = [], 0
    for doc in lines:
        ids.append(flat_ids[start:start + len(doc)])
        start += len(doc)
    special = tokenizer.special_ids
    docs, tokens = stages("pack_serialize", _pack_and_serialize, doc_ids, ids,
                          special["cls"], special["sep"])
    return stages.report(docs, tokens)


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
    from pipelines import pretraining_data
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


def _multistream(path: str, output: str, pages_per_stream: int = 20) -> None:
    """Re-compresses a dump as Wikipedia's multistream dumps are: the header,
    then `pages_per_stream` pages per bz2 stream."""
    with bz2.open(path) as f:
        data = f.read()
    starts = [m.start() for m in re.finditer(rb"[ \t]*<page>", data)][::pages_per_stream]
    edges = [0] + starts + [len(data)]
    with open(output, "wb") as out:
        for start, end in zip(edges, edges[1:]):
            out.write(bz2.compress(data[start:end]))


def _rates(tokens: int, docs: int, seconds: float, cpu: float) -> dict:
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "documents": docs,
            "tokens": tokens, "tokens_per_s": round(tokens / seconds),
            "documents_per_s": round(docs / seconds, 2), "tokens_per_cpu_s": round(tokens / cpu)}


def _throughput(wiki: str, vocab: str, tmp: str) -> dict:
    """Sections 1 and 2 of the module docstring."""
    result = {}
    multistream = os.path.join(tmp, "enwiki-sample-multistream.xml.bz2")
    _multistream(wiki, multistream)
    print("pure-Python path...", file=sys.stderr, flush=True)
    seconds, cpu, _, out = _timed([sys.executable, os.path.abspath(__file__),
                                   "--pure_path", wiki, vocab])
    stages = json.loads(out)
    pure = dict(_rates(stages["tokens"], stages["documents"], seconds, cpu),
                stages_s=stages["stages_s"], stages_cpu_s=stages["stages_cpu_s"],
                start_up_s=round(seconds - sum(stages["stages_s"].values()), 2),
                start_up_cpu_s=round(cpu - sum(stages["stages_cpu_s"].values()), 2))
    result["pure_python_full_tokenizer"] = pure
    print("job stages in-process...", file=sys.stderr, flush=True)
    job_stages = _job_stages(wiki, vocab)
    for workers in (1, 2):
        print(f"Beam job, {workers} worker(s)...", file=sys.stderr, flush=True)
        seconds, cpu, manifest, peak = _job(multistream, vocab, os.path.join(tmp, f"w{workers}"),
                                            workers, split_mb=_SPLIT_MB)
        job = _rates(manifest["tokens"], manifest["documents_written"], seconds, cpu)
        job.update(peak_rss_mb=round(peak), per_core_speedup=round(
            job["tokens_per_s"] / workers / pure["tokens_per_s"], 2),
            per_core_speedup_cpu=round(job["tokens_per_cpu_s"] / pure["tokens_per_cpu_s"], 2))
        result[f"beam_{workers}_workers"] = job
    one = result["beam_1_workers"]
    one["same_tokens_as_pure_path"] = one["tokens"] == pure["tokens"] == job_stages["tokens"]
    result["job_stages_in_process"] = dict(
        stages_s=job_stages["stages_s"], stages_cpu_s=job_stages["stages_cpu_s"],
        start_up_and_beam_s=round(one["seconds"] - sum(job_stages["stages_s"].values()), 2),
        start_up_and_beam_cpu_s=round(
            one["cpu_seconds"] - sum(job_stages["stages_cpu_s"].values()), 2))

    def rate(tokens, *seconds):
        return round(tokens / sum(seconds))
    excluding = {"note": "each path's total (wall, or CPU) seconds minus its own wikitext "
                         "cleaning seconds (measured in-process); tokenize_pack_serialize: "
                         "those stages alone, in-process"}
    for unit, total, stage in (("", "seconds", "stages_s"), ("_cpu", "cpu_seconds",
                                                            "stages_cpu_s")):
        pure_s, job_s = pure[stage], job_stages[stage]
        pure_rate = rate(pure["tokens"], pure[total], -pure_s["clean_wikitext"])
        job_rate = rate(one["tokens"], one[total], -job_s["clean_wikitext"])
        pure_tps = rate(pure["tokens"], pure_s["tokenize"], pure_s["pack_serialize"])
        job_tps = rate(one["tokens"], job_s["tokenize"], job_s["pack_serialize"])
        per = "cpu_s" if unit else "s"
        excluding.update({
            f"pure_tokens_per_{per}": pure_rate, f"beam_1_worker_tokens_per_{per}": job_rate,
            f"per_core_speedup{unit}": round(job_rate / pure_rate, 2),
            f"pure_tokenize_pack_serialize_tokens_per_{per}": pure_tps,
            f"job_tokenize_pack_serialize_tokens_per_{per}": job_tps,
            f"tokenize_pack_serialize_speedup{unit}": round(job_tps / pure_tps, 2)})
    result["excluding_wikitext_cleaning"] = excluding
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache_dir", default="data")
    parser.add_argument("--rss_mb", default="64,256", help="comma-separated corpus sizes")
    parser.add_argument("--read_rss_mb", type=float, default=1024)
    parser.add_argument("--pure_path", nargs=2, metavar=("DUMP", "VOCAB"),
                        help="internal: run only the pure-Python path, print its JSON")
    args = parser.parse_args()
    if args.pure_path:
        print(json.dumps(_pure_python(*args.pure_path)))
        return
    wiki = default_corpus.fetch(args.cache_dir, default_corpus.ENWIKI)
    vocab = default_corpus.fetch(args.cache_dir, default_corpus.BERT_VOCAB)
    book = default_corpus.fetch(args.cache_dir, default_corpus.BOTCHAN)
    result = {"corpus": "enwiki-sample.xml.bz2 (206 pages)", "cpu_count": os.cpu_count(),
              "load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        result.update(_throughput(wiki, vocab, tmp))
        result["peak_rss"] = []
        for megabytes in [float(m) for m in args.rss_mb.split(",") if m]:
            path = os.path.join(tmp, f"gen{megabytes:g}.txt")
            _generate(path, megabytes, book)
            print(f"Beam job, 2 workers, {megabytes:g} MB of text...", file=sys.stderr,
                  flush=True)
            seconds, _, manifest, peak = _job(path, vocab, os.path.join(tmp, "gen"), 2, "text")
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
