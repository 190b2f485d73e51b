"""The job unchanged on Beam's DaskRunner, against a `distributed` cluster of
2 worker processes on loopback, writes the DirectRunner's bytes."""
import bz2
import filecmp
import os
import re
import sys

import apache_beam as beam
import distributed
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines import pretraining_data

DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"


def test_dask_cluster_writes_the_direct_runners_bytes(tmp_path, wiki_sample, bert_vocab):
    # The sample (one unit), a multistream copy of it (20 pages per bz2 stream:
    # 12 units spread over both workers, every document a duplicate) and a
    # corrupt file (a dead letter).
    (tmp_path / "more").mkdir()
    with bz2.open(wiki_sample) as f:
        dump = f.read()
    edges = [0] + [m.start() for m in re.finditer(rb"  <page>", dump)][20::20] + [len(dump)]
    (tmp_path / "more" / "multi.xml.bz2").write_bytes(
        b"".join(bz2.compress(dump[a:b]) for a, b in zip(edges, edges[1:])))
    (tmp_path / "more" / "broken.xml.bz2").write_bytes(b"BZh91AY&SY not bzip2")
    inputs = [wiki_sample, str(tmp_path / "more" / "*")]
    config = pretraining_data.JobConfig(bert_vocab, heldout_percent=5, split_bytes=200_000)

    direct, direct_metrics = pretraining_data.run(beam.Pipeline(), inputs,
                                                  str(tmp_path / "direct"), config)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        options = PipelineOptions([f"--runner={DASK_RUNNER}",
                                   f"--dask_client_address={cluster.scheduler_address}"])
        dask, dask_metrics = pretraining_data.run(beam.Pipeline(options=options), inputs,
                                                  str(tmp_path / "dask"), config)
        client = distributed.default_client()  # the runner's
        # Both workers tokenized units: TensorFlow loads only in UnitToExamplesFn.setup.
        assert list(client.run(lambda: "tensorflow" in sys.modules).values()) == [True, True]
        client.close()

    assert dask == direct
    assert direct["documents_skipped"]["duplicate"] == direct["documents_written"] > 100
    assert direct["dead_letters"] == 1 and direct["splits"]["heldout"]["examples"] > 0
    # The manifest never needed metrics: the DaskRunner reports none.
    assert dask_metrics is None and direct_metrics == pretraining_data.manifest_as_metrics(direct)
    names = sorted(os.listdir(tmp_path / "direct"))
    assert names == sorted(os.listdir(tmp_path / "dask")) == sorted(
        ["dead_letter.jsonl", "manifest.json", "vocab.txt", "heldout-00000-of-00001.tfrecord"]
        + [f"train-{i:05d}-of-00008.tfrecord" for i in range(8)])
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "direct", tmp_path / "dask", names,
                                           shallow=False)
    assert (mismatch, errors) == ([], [])
