"""The job's output does not depend on the number of workers."""
import bz2
import filecmp
import json
import os
import re

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines import pretraining_data


def _run(inputs, output_dir, vocab, beam_args):
    config = pretraining_data.JobConfig(vocab, max_seq_length=64, num_shards=3,
                                        heldout_percent=10, split_bytes=200_000)
    manifest, _ = pretraining_data.run(beam.Pipeline(options=PipelineOptions(beam_args)),
                                       inputs, str(output_dir), config)
    return manifest


@pytest.mark.slow
def test_two_processes_write_the_same_bytes_as_one(tmp_path, wiki_sample, botchan, bert_vocab):
    # Books cut into blank-line documents (text format, 1.4 MB: several units),
    # plus the Wikipedia sample (bz2: one unit) and a copy of it as a
    # multistream dump (20 pages per bz2 stream: several units), and
    # duplicates across files.
    lines = open(botchan, "rb").read().splitlines(keepends=True)
    text = b"".join(b"".join(lines[i:i + 10]) + b"\n" for i in range(0, len(lines), 10))
    for i in range(5):
        (tmp_path / f"book{i}.txt").write_bytes(text.replace(b"Botchan", f"B{i}".encode()))
    (tmp_path / "copy.txt").write_bytes(text.replace(b"Botchan", b"B0"))
    with bz2.open(wiki_sample) as f:
        dump = f.read()
    edges = [0] + [m.start() for m in re.finditer(rb"  <page>", dump)][::20] + [len(dump)]
    (tmp_path / "multi.xml.bz2").write_bytes(
        b"".join(bz2.compress(dump[a:b]) for a, b in zip(edges, edges[1:])))
    inputs = [str(tmp_path / "*.txt"), wiki_sample, str(tmp_path / "multi.xml.bz2")]
    one = _run(inputs, tmp_path / "one", bert_vocab, [])
    two = _run(inputs, tmp_path / "two", bert_vocab,
               ["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    assert one == two
    assert one.documents_skipped["duplicate"] > 1500 + 106  # books' paragraphs, the copy
    assert one.documents_read == one.documents_written + sum(one.documents_skipped.values())
    names = sorted(n for n in os.listdir(tmp_path / "one") if n.endswith(".tfrecord"))
    assert names == sorted(n for n in os.listdir(tmp_path / "two") if n.endswith(".tfrecord"))
    assert len(names) == 4
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "one", tmp_path / "two", names,
                                               shallow=False)
    assert (mismatch, errors) == ([], [])
    with open(tmp_path / "one" / "manifest.json") as f:
        assert json.load(f)["splits"]["train"]["examples"] == one.splits["train"].examples
