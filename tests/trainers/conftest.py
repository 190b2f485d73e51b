"""Small learnable TFRecord data in the pipeline's output format, for trainer tests."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from core import run_files, vocabulary

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = SPECIAL + [f"w{i}" for i in range(59)]  # 64 tokens
SEQ = 32


def _example(ids, seq, segments=None):
    mask = [1] * len(ids) + [0] * (seq - len(ids))
    padded = ids + [0] * (seq - len(ids))
    segments = (segments or [0] * len(ids)) + [0] * (seq - len(ids))
    feature = {name: tf.train.Feature(int64_list=tf.train.Int64List(value=value))
               for name, value in (("input_ids", padded), ("input_mask", mask), ("segment_ids", segments))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_data(directory: str, num_examples: int = 256, num_shards: int = 2, seed: int = 0,
               two_segments: bool = False, vocab: list[str] = VOCAB) -> run_files.DataManifest:
    """Writes train-*/heldout-* shards and manifest.json; sequences count upwards mod 59, so they are
    learnable. two_segments: 9 in 10 examples are `[CLS] A [SEP] B [SEP]` (B continues A's count);
    vocab: the pieces of vocab.txt (64)."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "vocab.txt"), "w") as f:
        f.write(vocabulary.vocab_text(vocab))
    for split, count in (("train", num_examples), ("heldout", num_examples // 4)):
        writers = [tf.io.TFRecordWriter(os.path.join(directory, f"{split}-{s:05d}-of-{num_shards:05d}.tfrecord"))
                   for s in range(num_shards)]
        for i in range(count):
            length = int(rng.integers(8, SEQ - 1))
            start = int(rng.integers(0, 59))
            body = [5 + (start + j) % 59 for j in range(length - 2)]
            if two_segments and i % 10:
                a = int(rng.integers(1, length - 3))
                ids = [2] + body[:a] + [3] + body[a:length - 3] + [3]
                writers[i % num_shards].write(_example(ids, SEQ, [0] * (a + 2) + [1] * (length - a - 2)))
                continue
            writers[i % num_shards].write(_example([2] + body + [3], SEQ))
        for w in writers:
            w.close()
    tokenizer = run_files.TokenizerSettings.of_vocabulary(
        vocabulary.read(os.path.join(directory, "vocab.txt")), lowercase=True, max_seq_length=SEQ)
    manifest = run_files.DataManifest(tokenizer, {"train": run_files.Split(num_examples),
                                                  "heldout": run_files.Split(num_examples // 4)})
    run_files.write_manifest(directory, manifest)
    return manifest


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("tfrecords"))
    write_data(directory)
    return directory


# Small enough for seconds per run on 2 CPU cores.
TINY_OVERRIDES = [
    "model.encoder.embedding_size=16", "model.encoder.hidden_size=32", "model.encoder.num_heads=2",
    "model.encoder.intermediate_size=64", "model.encoder.max_position_embeddings=32",
    "model.max_predictions_per_seq=6", "train.batch_size=8", "train.num_steps=12", "train.warmup_steps=2",
    "train.learning_rate=2e-3",
    "train.log_every=4", "train.checkpoint_every=4", "train.shuffle_buffer=64", "train.eval_batches=4",
]


@pytest.fixture(scope="session")
def pretrained_run(tiny_data, tmp_path_factory):
    """A tiny pre-training run directory (4 steps): what fine-tuning and export tests start from."""
    from trainers.pretrain import main as pretrain_main
    model_dir = str(tmp_path_factory.mktemp("pretrained"))
    overrides = [o for o in TINY_OVERRIDES if "num_steps" not in o] + ["train.num_steps=4"]
    pretrain_main(["--data", os.path.join(tiny_data, "train-*"), "--model_dir", model_dir, "--strategy", "cpu"]
                  + [f"--override={o}" for o in overrides])
    return model_dir


def write_word_task(path, count: int, seed: int = 0, pair: bool = False, header=("text", "label")):
    """A separable CSV task over the tiny vocabulary: label "low" for texts of words w0-w29,
    "high" for w30-w58 (for pairs: the second text decides)."""
    import csv
    rng = np.random.default_rng(seed)

    def words(low):
        lo, hi = (0, 30) if low else (30, 59)
        return " ".join(f"w{i}" for i in rng.integers(lo, hi, int(rng.integers(3, 10))))

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(header))
        for _ in range(count):
            low = bool(rng.integers(0, 2))
            texts = [words(bool(rng.integers(0, 2))), words(low)] if pair else [words(low)]
            writer.writerow(texts + ["low" if low else "high"])
    return str(path)


def write_causal_data(directory: str, context: int = 16) -> str:
    """Causal-LM data made by the Beam job from a small synthetic corpus: a byte-level BPE of 300
    pieces (bpe.model) and blocks of context + 1 tokens; returns the directory."""
    import io

    import sentencepiece
    from apache_beam.testing import test_pipeline

    from pipelines import pretraining_data
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat while dogs ran over hills and rivers under bright skies".split()
    documents = [". ".join(" ".join(words[(s + k) % len(words)] for k in range(int(rng.integers(3, 9))))
                           for s in rng.integers(0, len(words), 3)) + "." for _ in range(300)]
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "corpus.txt"), "w") as f:
        f.write("\n\n".join(documents) + "\n")
    writer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(documents), model_writer=writer, vocab_size=300, model_type="bpe",
        byte_fallback=True, unk_id=0, unk_piece="<unk>", bos_id=-1, eos_id=-1, pad_id=-1,
        control_symbols=[vocabulary.EOS], normalization_rule_name="identity", add_dummy_prefix=False,
        remove_extra_whitespaces=False, minloglevel=2)
    with open(os.path.join(directory, "bpe.model"), "wb") as f:
        f.write(writer.getvalue())
    config = pretraining_data.JobConfig(os.path.join(directory, "bpe.model"), max_seq_length=context, lowercase=False,
                                        num_shards=2, heldout_percent=10, objective=pretraining_data.CAUSAL_LM)
    pretraining_data.run(test_pipeline.TestPipeline(), [os.path.join(directory, "corpus.txt")],
                         os.path.join(directory, "data"), config)
    return os.path.join(directory, "data")


@pytest.fixture(scope="session")
def causal_data(tmp_path_factory):
    return write_causal_data(str(tmp_path_factory.mktemp("causal")))


# gpt_tiny shrunk to seconds per run on 2 CPU cores.
GPT_TINY_OVERRIDES = [
    "model.encoder.hidden_size=32", "model.encoder.embedding_size=32", "model.encoder.num_layers=2",
    "model.encoder.num_heads=2", "model.encoder.intermediate_size=64", "model.encoder.max_position_embeddings=32",
    "train.batch_size=8", "train.num_steps=12", "train.warmup_steps=2", "train.learning_rate=3e-3",
    "train.log_every=4", "train.checkpoint_every=4", "train.shuffle_buffer=64", "train.eval_batches=4",
]


@pytest.fixture(scope="session")
def causal_run(causal_data, tmp_path_factory):
    """A tiny causal-LM run directory (40 steps): what generation, few-shot and export tests read."""
    from trainers.pretrain import main as pretrain_main
    model_dir = str(tmp_path_factory.mktemp("causal_run"))
    overrides = [o for o in GPT_TINY_OVERRIDES if "num_steps" not in o] + ["train.num_steps=40"]
    pretrain_main(["--config=gpt_tiny", "--data", os.path.join(causal_data, "train-*"), "--model_dir", model_dir,
                   "--strategy", "cpu"] + [f"--override={o}" for o in overrides])
    return model_dir
