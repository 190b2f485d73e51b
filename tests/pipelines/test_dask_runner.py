"""The job unchanged on Beam's DaskRunner, against a `distributed` cluster of
2 worker processes on loopback, writes the DirectRunner's bytes, also when
workers are SIGKILLed mid-job."""
import bz2
import contextlib
import filecmp
import os
import re
import signal
import sys
import threading
import time

import apache_beam as beam
import distributed
import psutil
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from core import cli
from pipelines import build_pretraining_data, pretraining_data

DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
SPLIT_MB = 200_000 / 2**20  # exact in binary: --split_mb gives split_bytes 200_000


@pytest.fixture(scope="module")
def job(tmp_path_factory, wiki_sample, bert_vocab):
    """(inputs, config, DirectRunner output directory, its manifest, its metrics): the
    sample (one unit), a multistream copy of it (20 pages per bz2 stream: 12 units spread
    over both workers, every document a duplicate) and a corrupt file (a dead letter)."""
    tmp_path = tmp_path_factory.mktemp("dask_job")
    (tmp_path / "more").mkdir()
    with bz2.open(wiki_sample) as f:
        dump = f.read()
    edges = [0] + [m.start() for m in re.finditer(rb"  <page>", dump)][20::20] + [len(dump)]
    (tmp_path / "more" / "multi.xml.bz2").write_bytes(
        b"".join(bz2.compress(dump[a:b]) for a, b in zip(edges, edges[1:])))
    (tmp_path / "more" / "broken.xml.bz2").write_bytes(b"BZh91AY&SY not bzip2")
    inputs = [wiki_sample, str(tmp_path / "more" / "*")]
    config = pretraining_data.JobConfig(bert_vocab, heldout_percent=5,
                                        split_bytes=int(SPLIT_MB * 2**20))
    direct, direct_metrics = pretraining_data.run(beam.Pipeline(), inputs,
                                                  str(tmp_path / "direct"), config)
    return inputs, config, tmp_path / "direct", direct, direct_metrics


def _cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address=None)


def _dask_options(cluster) -> PipelineOptions:
    return PipelineOptions([f"--runner={DASK_RUNNER}",
                            f"--dask_client_address={cluster.scheduler_address}"])


def _assert_same_files(direct_dir, dask_dir):
    names = sorted(os.listdir(direct_dir))
    assert names == sorted(os.listdir(dask_dir)) == sorted(
        ["dead_letter.jsonl", "manifest.json", "vocab.txt", "heldout-00000-of-00001.tfrecord"]
        + [f"train-{i:05d}-of-00008.tfrecord" for i in range(8)])
    _, mismatch, errors = filecmp.cmpfiles(direct_dir, dask_dir, names, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_dask_cluster_writes_the_direct_runners_bytes(job, tmp_path):
    inputs, config, direct_dir, direct, direct_metrics = job
    with _cluster() as cluster:
        dask, dask_metrics = pretraining_data.run(beam.Pipeline(options=_dask_options(cluster)),
                                                  inputs, str(tmp_path / "dask"), config)
        client = distributed.default_client()  # the runner's
        # Both workers tokenized units: TensorFlow loads only in UnitToExamplesFn.setup.
        assert list(client.run(lambda: "tensorflow" in sys.modules).values()) == [True, True]
        client.close()

    assert dask == direct
    assert direct.documents_skipped["duplicate"] == direct.documents_written > 100
    assert direct.dead_letters == 1 and direct.splits["heldout"].examples > 0
    # The manifest never needed metrics: the DaskRunner reports none.
    assert dask_metrics is None and direct_metrics == pretraining_data.manifest_as_metrics(direct)
    _assert_same_files(direct_dir, tmp_path / "dask")


def _kill_when(find_pid, kills: list) -> threading.Thread:
    """A thread that SIGKILLs the process `find_pid()` names (polled; None: not yet) and
    appends its pid to `kills`."""
    def watch():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            pid = find_pid()
            if pid:
                os.kill(pid, signal.SIGKILL)
                kills.append(pid)
                return
            time.sleep(0.005)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _worker_with_open(prefix: str):
    """A function giving the pid of a worker process (a child of this one) with a file open
    whose path starts with `prefix`, else None."""
    def find_pid():
        for process in psutil.Process().children(recursive=True):
            try:
                if any(f.path.startswith(prefix) for f in process.open_files()):
                    return process.pid
            except psutil.Error:  # it exited meanwhile
                pass
        return None
    return find_pid


class _FirstCallWaits(distributed.WorkerPlugin):
    """On every worker, restarted ones too: the job's first call of `pretraining_data.<function>`
    (before it runs, or after with after=True) writes its worker's pid to `mark` and sleeps,
    to be SIGKILLed in the middle of that task. Beam pickles the job's functions by name, so
    the job's tasks call the wrapper."""

    def __init__(self, function: str, mark: str, after: bool = False):
        self.name = f"first-{function}-waits"
        self.function, self.mark, self.after = function, mark, after

    def setup(self, worker):
        function, mark, after = getattr(pretraining_data, self.function), self.mark, self.after
        def wait():
            try:  # only the first call anywhere waits
                os.close(os.open(f"{mark}.claimed", os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            with open(f"{mark}.tmp", "w") as f:
                f.write(str(os.getpid()))
            os.rename(f"{mark}.tmp", mark)
            time.sleep(300)
        def call_then_wait(*args):
            if not after:
                wait()
            result = function(*args)
            if after:
                wait()
            return result
        setattr(pretraining_data, self.function, call_then_wait)


def _pid_in(mark: str):
    """A function giving the pid a _FirstCallWaits wrote to `mark`, else None."""
    def find_pid():
        if os.path.exists(mark):
            with open(mark) as f:
                return int(f.read())
        return None
    return find_pid


def test_workers_killed_mid_job_are_retried_else_the_job_fails_in_one_line(job, tmp_path):
    inputs, config, direct_dir, direct, _ = job
    out = tmp_path / "dask"
    with _cluster() as cluster, contextlib.closing(
            distributed.Client(cluster, set_as_default=False)) as client:  # this test's
        client.wait_for_workers(2)
        pids = set(client.run(os.getpid).values())
        # No retry allowed: the task that lost its worker fails the job, in one line.
        retries = cluster.scheduler.allowed_failures
        cluster.scheduler.allowed_failures = 0
        # A worker killed while it fingerprints documents.
        client.register_plugin(_FirstCallWaits("fingerprint", str(tmp_path / "fingerprint")))
        kills = []
        _kill_when(_pid_in(str(tmp_path / "fingerprint")), kills)
        with pytest.raises(cli.UserError) as failed:
            build_pretraining_data.main([
                f"--input={','.join(inputs)}", f"--output_dir={out}",
                f"--vocab={config.vocab_path}", "--heldout_percent=5", f"--split_mb={SPLIT_MB}",
                f"--runner={DASK_RUNNER}", f"--dask_client_address={cluster.scheduler_address}"])
        assert len(kills) == 1 and kills[0] in pids
        message = cli.message(failed.value)
        assert message == str(failed.value)  # one line
        assert message.startswith(f"{DASK_RUNNER}: a task's Dask worker died 1 time(s) "
                                  "(distributed.scheduler.allowed-failures is 0;")
        assert f"{out} is incomplete: rerun it once the cluster is idle" in message
        assert not [name for name in os.listdir(out) if name.endswith((".json", ".tfrecord"))]
        distributed.default_client().close()  # the runner's: the scheduler forgets the job
        deadline = time.monotonic() + 120  # until what still ran of the failed job is done
        while any(client.run(lambda dask_worker: len(dask_worker.state.all_running_tasks))
                  .values()):
            assert time.monotonic() < deadline
            time.sleep(0.1)

        # With distributed's retries (3 by default) the rerun, in the same directory,
        # survives a worker killed mid-unit and one killed after Finalize wrote everything:
        # both tasks run again (a unit rewrites its own temporary files) and give the
        # DirectRunner's bytes and manifest.
        cluster.scheduler.allowed_failures = retries
        client.register_plugin(_FirstCallWaits("_finalize", str(tmp_path / "finalize"),
                                               after=True))
        client.wait_for_workers(2)  # the nanny restarted the killed one
        pids = set(client.run(os.getpid).values())
        mid_unit, after_finalize = [], []
        # A worker with a unit's temporary file open is mid-unit (Finalize waits for them all).
        unit_files = os.path.join(os.path.realpath(out), pretraining_data.TEMP_DIR, "")
        threads = [_kill_when(_worker_with_open(unit_files), mid_unit),
                   _kill_when(_pid_in(str(tmp_path / "finalize")), after_finalize)]
        dask, _ = pretraining_data.run(beam.Pipeline(options=_dask_options(cluster)), inputs,
                                       str(out), config)
        for thread in threads:
            thread.join(timeout=5)
        assert len(mid_unit) == len(after_finalize) == 1 and mid_unit[0] in pids
        distributed.default_client().close()

    assert dask == direct
    _assert_same_files(direct_dir, out)
