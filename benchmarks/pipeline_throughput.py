"""Throughput and memory of `pipelines.build_pretraining_data`; prints JSON.

    python -m benchmarks.pipeline_throughput [--cache_dir=data] [--copies=4]
        [--rss_mb=64,256] [--read_rss_mb=1024]

1. `sample_whole_commands`: the Wikipedia sample (206 pages) with BERT's
   uncased vocab, through
   - the Beam job (DirectRunner, 1 worker, then 2 with multi_processing), and
   - in the same run, a single-process pure-Python path doing the same work:
     the same reader, wikitext cleaning (regex pre-pass, then
     mwparserfromhell), sentence splitter, then tf-models-official's
     FullTokenizer one sentence at a time, the same packing and serialization
     (the same tokens come out: `same_tokens_as_pure_path`).
   The job reads the sample re-compressed as Wikipedia's multistream dumps
   are (20 pages per bz2 stream, same text) with --split_mb=0.25, so that it
   is cut into several work units and 2 workers can share it; the original
   is one bz2 stream, one unit, which a second worker could not help with.
   Each is timed as a whole command (a subprocess, interpreter start-up and
   imports included), wall-clock and CPU (user + system of the process tree).
   `per_core_speedup` = job tokens/s / workers / pure tokens/s (the target is
   >= 5); `per_core_speedup_cpu` compares tokens per CPU-second. Both paths
   import TensorFlow (FullTokenizer's module does too), which alone takes
   longer than the sample's work.
2. `steady_state`: the same three commands on --copies copies of the sample
   (distinct page ids, same text), minus their runs on one copy: the rates of
   the per-document work with start-up cancelled out, what a large corpus
   sees.
3. `stages_in_process`: CPU seconds of each path's stages on the sample,
   measured in this process (the job's stages run by its library functions,
   without Beam), and the speedup the job could reach if everything but the
   stages it shares with the pure path (same code) were free.
4. Peak RSS (sum over the job's process tree, sampled every 0.2 s) of the
   whole job with 2 workers on generated plain text of each --rss_mb size
   (Botchan paragraphs, each document made unique), and peak RSS of the read
   stage alone (read + dedup fingerprint) on --read_rss_mb of it.
"""
import bz2
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

# Only what the pure path needs at import time (no Beam); the job's modules
# are imported where used.
from core import cli, run_files
from pipelines import default_corpus, documents, formats, packing, sentences, tf_records

# Sentences per tokenizer call in the in-process job stages: the job's batch
# (pipelines.pretraining_data tokenizes 4,096 sentences per TF call).
TOKENIZE_BATCH = 4096
_SPLIT_MB = 0.25  # work units of the multistream sample for the job (about 7 per copy)
# Stages the job runs with the very code of the pure path (all but tokenization
# and the dedup pass): however fast the rest, the job's stage time is at least
# theirs, which bounds the speedup.
_SHARED_STAGES = ("read", "clean_wikitext", "split_sentences", "pack_serialize")


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
    return seconds, cpu, run_files.read_manifest(output_dir), peak


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
            tf_records.serialize_example(input_ids, segment_ids, 128)
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
    tokenizer = stages("load_tokenizer", tokenization.Tokenizer, vocab, True)
    tokenizer.tokenize_lines(["warm up"])  # traces the TF function (as the job's setup does)
    stages("dedup_read_fingerprint", lambda: [pretraining_data.fingerprint(d.text)
                                              for d in _articles(path)])
    doc_ids, lines = _cleaned(stages, path)
    flat = [s for doc in lines for s in doc]
    batch = TOKENIZE_BATCH
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


def _multistream(path: str, output: str, copies: int = 1, pages_per_stream: int = 20) -> None:
    """Re-compresses a dump as Wikipedia's multistream dumps are: the header,
    then `pages_per_stream` pages per bz2 stream. With copies > 1 the pages
    come `copies` times, copy C's page ids multiplied by 1000 plus C and its
    wikitext led by the comment `<!-- copy C -->`: distinct documents (no
    duplicates) that clean to the same text."""
    with bz2.open(path) as f:
        data = f.read()
    pages = [m.start() for m in re.finditer(rb"[ \t]*<page>", data)]
    footer = data.rindex(b"</mediawiki>")
    header, body = data[:pages[0]], data[pages[0]:footer]
    page_list = [body[a - pages[0]:b - pages[0]] for a, b in zip(pages, pages[1:] + [footer])]
    with open(output, "wb") as out:
        out.write(bz2.compress(header))
        for copy in range(copies):
            renamed = page_list if copies == 1 else [_copy_of(page, copy) for page in page_list]
            for i in range(0, len(renamed), pages_per_stream):
                out.write(bz2.compress(b"".join(renamed[i:i + pages_per_stream])))
        out.write(bz2.compress(data[footer:]))


def _copy_of(page: bytes, copy: int) -> bytes:
    page = re.sub(rb"<id>(\d+)</id>", lambda m: b"<id>%d</id>" % (int(m[1]) * 1000 + copy),
                  page, count=1)
    def marked(text_tag):  # a self-closing <text/> has no text to mark
        tag = text_tag[0]
        return tag if tag.endswith(b"/>") else tag + b"&lt;!-- copy %d --&gt;" % copy
    return re.sub(rb"<text\b[^>]*>", marked, page, count=1)


def _rates(tokens: int, docs: int, seconds: float, cpu: float) -> dict:
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "documents": docs,
            "tokens": tokens, "tokens_per_s": round(tokens / seconds),
            "documents_per_s": round(docs / seconds, 2), "tokens_per_cpu_s": round(tokens / cpu)}


def _pure_command(dump: str, vocab: str) -> tuple[dict, float, float]:
    """The pure path on a dump, as a whole command: (its stage JSON, wall s, CPU s)."""
    seconds, cpu, _, out = _timed([sys.executable, "-m", "benchmarks.pipeline_throughput",
                                   "--pure_path", dump, vocab])
    return json.loads(out), seconds, cpu


def _whole_commands(dumps: dict, vocab: str, tmp: str) -> dict:
    """Every path on each dump ({copies: path}) as a whole command: {path name:
    {copies: (tokens, documents, wall s, CPU s, extra fields)}}."""
    runs = {"pure_python_full_tokenizer": {}, "beam_1_workers": {}, "beam_2_workers": {}}
    for copies, dump in dumps.items():
        print(f"pure-Python path, {copies} cop(y/ies)...", file=sys.stderr, flush=True)
        stages, seconds, cpu = _pure_command(dump, vocab)
        runs["pure_python_full_tokenizer"][copies] = (
            stages["tokens"], stages["documents"], seconds, cpu, stages)
        for workers in (1, 2):
            print(f"Beam job, {workers} worker(s), {copies} cop(y/ies)...", file=sys.stderr,
                  flush=True)
            seconds, cpu, manifest, peak = _job(dump, vocab, os.path.join(tmp, f"w{workers}"),
                                                workers, split_mb=_SPLIT_MB)
            runs[f"beam_{workers}_workers"][copies] = (
                manifest.tokens, manifest.documents_written, seconds, cpu,
                {"peak_rss_mb": round(peak)})
    return runs


def _throughput(wiki: str, vocab: str, tmp: str, copies: int) -> dict:
    """Sections 1 to 3 of the module docstring."""
    dumps = {}
    for n in (1, copies):
        dumps[n] = os.path.join(tmp, f"enwiki-sample-x{n}-multistream.xml.bz2")
        _multistream(wiki, dumps[n], n)
    runs = _whole_commands(dumps, vocab, tmp)
    sample, steady = {}, {}
    for name, by_copies in runs.items():
        tokens, docs, seconds, cpu, extra = by_copies[1]
        sample[name] = _rates(tokens, docs, seconds, cpu)
        if name.startswith("pure"):
            sample[name].update(stages_s=extra["stages_s"], stages_cpu_s=extra["stages_cpu_s"],
                                start_up_s=round(seconds - sum(extra["stages_s"].values()), 2))
        else:
            sample[name].update(extra)
        more_tokens, more_docs, more_seconds, more_cpu, _ = by_copies[copies]
        steady[name] = _rates(more_tokens - tokens, more_docs - docs, more_seconds - seconds,
                              more_cpu - cpu)
    for workers in (1, 2):
        for table in (sample, steady):
            job, pure = table[f"beam_{workers}_workers"], table["pure_python_full_tokenizer"]
            job["per_core_speedup"] = round(
                job["tokens_per_s"] / workers / pure["tokens_per_s"], 2)
            job["per_core_speedup_cpu"] = round(
                job["tokens_per_cpu_s"] / pure["tokens_per_cpu_s"], 2)
    sample["beam_1_workers"]["same_tokens_as_pure_path"] = (
        runs["beam_1_workers"][1][0] == runs["pure_python_full_tokenizer"][1][0])
    steady["beam_1_workers"]["same_tokens_as_pure_path"] = (
        runs["beam_1_workers"][copies][0] == runs["pure_python_full_tokenizer"][copies][0])
    steady["note"] = (f"the difference between runs on {copies} copies of the sample and on "
                      "one: per-document work only, start-up excluded")

    print("job stages in-process...", file=sys.stderr, flush=True)
    job = _job_stages(wiki, vocab)
    pure_cpu = sample["pure_python_full_tokenizer"]["stages_cpu_s"]
    pure_work = sum(v for k, v in pure_cpu.items() if k != "load_tokenizer")
    shared = sum(job["stages_cpu_s"][k] for k in _SHARED_STAGES)
    stages = {"pure_python_cpu_s": pure_cpu, "job_cpu_s": job["stages_cpu_s"],
              "job_start_up_and_beam_cpu_s": round(
                  sample["beam_1_workers"]["cpu_seconds"] - sum(job["stages_cpu_s"].values()), 2),
              "shared_stages": list(_SHARED_STAGES),
              "speedup_bound_if_the_rest_were_free": round(pure_work / shared, 2)}
    return {"sample_whole_commands": sample, "steady_state": steady, "stages_in_process": stages}


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache_dir", default="data")
    parser.add_argument("--copies", type=int, default=4,
                        help="copies of the sample for the steady-state rates (>= 2)")
    parser.add_argument("--rss_mb", default="64,256", help="comma-separated corpus sizes")
    parser.add_argument("--read_rss_mb", type=float, default=1024, help="0: no read-stage measurement")
    parser.add_argument("--pure_path", nargs=2, metavar=("DUMP", "VOCAB"),
                        help="internal: run only the pure-Python path, print its JSON")
    args = parser.parse_args(argv)
    if args.copies < 2:
        parser.error("--copies must be at least 2")
    try:
        args.rss_mb = [float(m) for m in args.rss_mb.split(",") if m]
    except ValueError:
        parser.error(f"--rss_mb={args.rss_mb}: expected comma-separated sizes in MB")
    if any(m <= 0 for m in args.rss_mb) or args.read_rss_mb < 0:
        parser.error(f"corpus sizes must be positive, got --rss_mb={args.rss_mb} --read_rss_mb={args.read_rss_mb}")
    for path in args.pure_path or ():
        if not os.path.isfile(path):
            raise cli.UserError(f"--pure_path: {path} {'is a directory' if os.path.isdir(path) else 'not found'}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.pure_path:
        print(json.dumps(_pure_python(*args.pure_path)))
        return 0
    wiki = default_corpus.fetch(args.cache_dir, default_corpus.ENWIKI)
    vocab = default_corpus.fetch(args.cache_dir, default_corpus.BERT_VOCAB)
    book = default_corpus.fetch(args.cache_dir, default_corpus.BOTCHAN)
    result = {"corpus": "enwiki-sample.xml.bz2 (206 pages)", "cpu_count": os.cpu_count(),
              "load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        result.update(_throughput(wiki, vocab, tmp, args.copies))
        result["peak_rss"] = []
        for megabytes in args.rss_mb:
            path = os.path.join(tmp, f"gen{megabytes:g}.txt")
            _generate(path, megabytes, book)
            print(f"Beam job, 2 workers, {megabytes:g} MB of text...", file=sys.stderr,
                  flush=True)
            seconds, _, manifest, peak = _job(path, vocab, os.path.join(tmp, "gen"), 2, "text")
            result["peak_rss"].append({
                "corpus_mb": megabytes, "seconds": round(seconds, 1),
                "documents": manifest.documents_written, "tokens": manifest.tokens,
                "tokens_per_s": round(manifest.tokens / seconds),
                "peak_rss_mb_process_tree": round(peak)})
            os.remove(path)
        if args.read_rss_mb:
            path = os.path.join(tmp, "read.txt")
            _generate(path, args.read_rss_mb, book)
            print(f"read stage on {args.read_rss_mb:g} MB...", file=sys.stderr, flush=True)
            result["read_stage_rss"] = _read_stage_rss(path)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
