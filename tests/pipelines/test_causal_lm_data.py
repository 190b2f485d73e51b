"""The causal-LM data mode: documents + <|endoftext|> cut into contiguous blocks; the accounting."""
import filecmp
import io
import os

import apache_beam as beam
import pytest
import sentencepiece
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_pipeline

from core import run_files, vocabulary
from pipelines import blocks, build_vocab, formats, pretraining_data, tokenization

T = 16  # context: blocks of 17 tokens
WORDS = "the cat sat on a mat while dogs ran over hills and rivers under bright skies".split()


def test_blocks_are_contiguous_and_only_the_tail_waits():
    stream = blocks.BlockStream(4, eos_id=9)
    assert stream.add([1, 2]) == [] and stream.tail == 3
    assert stream.add([3, 4, 5, 6]) == [[1, 2, 9, 3], [4, 5, 6, 9]] and stream.tail == 0
    assert stream.add([7] * 6) == [[7, 7, 7, 7]] and stream.tail == 3


def _document(i: int) -> str:
    lines = [" ".join(WORDS[(i * 7 + j * 3 + k) % len(WORDS)] for k in range(3 + (i + j) % 9))
             for j in range(1 + i % 4)]
    return "\n".join(line.capitalize() + "." for line in lines)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("causal")
    docs = [_document(i) for i in range(40)]
    for name, part in (("a.txt", docs[:25]), ("b.txt", docs[25:] + docs[:2])):  # two duplicates
        (root / name).write_text("\n\n".join(part) + "\n")
    (root / "empty.txt").write_bytes(b"")
    writer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(docs), model_writer=writer, vocab_size=300, model_type="bpe", byte_fallback=True,
        unk_id=0, unk_piece="<unk>", bos_id=-1, eos_id=-1, pad_id=-1, control_symbols=[vocabulary.EOS],
        normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False, minloglevel=2)
    (root / "bpe.model").write_bytes(writer.getvalue())
    return root


def _run(root, name, pipeline):
    config = pretraining_data.JobConfig(str(root / "bpe.model"), max_seq_length=T, lowercase=False, num_shards=2,
                                        heldout_percent=20, objective=pretraining_data.CAUSAL_LM)
    return pretraining_data.run(pipeline, [str(root / "*.txt")], str(root / name), config)


def _ids(path):
    return [list(tf.train.Example.FromString(r.numpy()).features.feature["input_ids"].int64_list.value)
            for r in tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(path)))]


def test_blocks_hold_every_document_once_in_order_and_the_counts_add_up(corpus):
    manifest, metrics = _run(corpus, "out", test_pipeline.TestPipeline())
    assert manifest.objective == run_files.CAUSAL_LM_DATA and manifest.max_seq_length == T
    assert metrics == pretraining_data.manifest_as_metrics(manifest)
    assert manifest.documents_skipped == {"duplicate": 2, "empty_file": 1} and manifest.dead_letters == 1
    tokenizer = tokenization.Tokenizer(str(corpus / "bpe.model"), lowercase=False)
    eos = tokenizer.special_ids["eos"]
    assert tokenizer.special_ids == {"eos": 1} and manifest.special_token_ids == {"eos": 1}
    streams = {"train": {}, "heldout": {}}  # split -> {file: the unit's token stream}
    seen = set()
    for name in ("a.txt", "b.txt"):
        size = os.path.getsize(corpus / name)
        unit = formats.Unit(str(corpus / name), "text", 0, size, size)
        for doc in formats.read_unit(unit, lambda path: open(path, "rb"), 10**6):
            if pretraining_data.fingerprint(doc.text) in seen:
                continue  # b.txt's copies of a.txt's first two documents
            seen.add(pretraining_data.fingerprint(doc.text))
            (ids,) = tokenizer.tokenize_lines(["\n".join(formats.paragraphs(doc))])
            split = pretraining_data.split_of(doc.doc_id, 20)
            streams[split].setdefault(name, []).extend(ids + [eos])
    for split, by_file in streams.items():
        s = manifest.splits[split]
        expected = [stream[i:i + T + 1] for stream in by_file.values()
                    for i in range(0, len(stream) - T, T + 1)]
        written = _ids(str(corpus / "out" / f"{split}-*"))
        assert sorted(written) == sorted(expected) and all(len(b) == T + 1 for b in written)
        assert s.examples == len(expected) and s.tokens == (T + 1) * len(expected)
        assert s.tokens + s.tokens_dropped == sum(len(stream) for stream in by_file.values())
        assert s.tokens_dropped == sum(len(stream) % (T + 1) for stream in by_file.values())
    assert manifest.tokens_dropped == sum(s.tokens_dropped for s in manifest.splits.values()) > 0
    assert run_files.read_manifest(str(corpus / "out")) == manifest


def test_two_workers_write_the_same_bytes(corpus):
    one, _ = _run(corpus, "one", test_pipeline.TestPipeline())
    two, _ = _run(corpus, "two", beam.Pipeline(options=PipelineOptions(
        ["--direct_num_workers=2", "--direct_running_mode=multi_threading"])))
    assert one == two
    names = sorted(n for n in os.listdir(corpus / "one") if n.endswith(".tfrecord"))
    assert filecmp.cmpfiles(corpus / "one", corpus / "two", names, shallow=False)[1:] == ([], [])


def test_an_electra_vocabulary_is_refused_for_causal_lm_data_and_the_reverse(corpus, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(t + "\n" for t in vocabulary.RESERVED_TOKENS + ("the",)))
    causal = pretraining_data.JobConfig(str(vocab), objective=pretraining_data.CAUSAL_LM)
    with pytest.raises(ValueError, match="needs a byte-level BPE vocabulary"):
        pretraining_data.run(test_pipeline.TestPipeline(), [str(corpus / "a.txt")], str(tmp_path / "o1"), causal)
    electra = pretraining_data.JobConfig(str(corpus / "bpe.model"))
    with pytest.raises(ValueError, match="is a causal LM's vocabulary"):
        pretraining_data.run(test_pipeline.TestPipeline(), [str(corpus / "a.txt")], str(tmp_path / "o2"), electra)


def test_build_vocab_bpe_maps_every_text_to_known_pieces(corpus, tmp_path):
    lines = open(corpus / "a.txt").read().splitlines()
    model = build_vocab.learn_bpe((line for line in lines if line), 300, lowercase=False)
    processor = sentencepiece.SentencePieceProcessor(model_proto=model)
    text = "Cats sat — naïve 東京 😀 1984!"
    ids = processor.encode(text)
    assert 0 not in ids and processor.decode(ids) == text  # no <unk>: unknown characters become bytes
    assert processor.id_to_piece(1) == vocabulary.EOS and processor.encode(vocabulary.EOS) != [1]
