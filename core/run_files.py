"""The files one stage hands the next, with their names and typed load/save: the only reader and
writer of each.

A data directory (pipelines.build_pretraining_data):
    manifest.json   DataManifest: the tokenizer settings the records were made with, counts,
                    splits and shards, how the job was run
    vocab.txt       the vocabulary's pieces (and spm.model for SentencePiece)
    train-*, heldout-*, dead_letter.jsonl
A run directory (trainers.pretrain, trainers.finetune, trainers.convert, trainers.distill):
    config.json     the resolved config: PretrainConfig, or FinetuneConfig (it has a "task" section)
    data.json       TokenizerSettings: how the model's inputs are tokenized
    vocab.txt       the vocabulary (and spm.model for SentencePiece)
    labels.json     classification runs: the label names, in id order
    distillation.json  distilled runs (trainers.distill): the teacher, the layer map and the
                    DistillConfig; TinyBERT's first stage trains in intermediate/
    job.json        JobRecord: the command and the identity of its inputs, so that a rerun
                    resumes only the job that made the directory
    ckpt-*, eval_results.json, results.json
A SavedModel version (trainers.export):
    assets.extra/run.json  what it serves: the run kind, task, labels and tokenizer settings
                           (vocabulary fingerprint included), so versions of one model never mix

A vocabulary is known by its content (TokenizerSettings.vocab_fingerprint), so data, runs and
exports made with different vocabularies of one size never mix unnoticed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Any

from configs import FinetuneConfig, PretrainConfig, from_dict
from configs.distill_config import DistillConfig
from core import vocabulary
from core.cli import UserError
from core.files import Files, layer

CONFIG, TOKENIZER, VOCAB, SENTENCEPIECE_MODEL = "config.json", "data.json", "vocab.txt", "spm.model"
LABELS, MANIFEST, EVAL_RESULTS, RESULTS = "labels.json", "manifest.json", "eval_results.json", "results.json"
JOB = "job.json"
DISTILLATION, INTERMEDIATE = "distillation.json", "intermediate"
EXPORT_RECORD = os.path.join("assets.extra", "run.json")
OVERWRITE_FLAG = "--overwrite"
# What trainers.pretrain and trainers.finetune write in a run directory (the loop: checkpoints,
# TensorBoard folders named after the splits, kept milestones, other workers' checkpoints).
RUN_OUTPUTS = (CONFIG, TOKENIZER, VOCAB, SENTENCEPIECE_MODEL, LABELS, EVAL_RESULTS, RESULTS, "checkpoint", "ckpt-*",
               "train", "eval", "dev*", "heldout", "milestones", "workers", "predictions", "seed_*")
DISTILL_OUTPUTS = RUN_OUTPUTS + (DISTILLATION, INTERMEDIATE)


# What a data directory's examples are for (DataManifest.objective): ELECTRA's packed
# `[CLS] A [SEP] B [SEP]` examples (every masked objective), or a causal LM's token blocks.
ELECTRA_DATA, CAUSAL_LM_DATA = "electra", "causal_lm"


class RunFilesError(UserError):
    """A run or data directory that is missing, incomplete, malformed or of another kind."""


# ---------------------------------------------------------------------------------------------- JSON


def read_json(path: str, files: Files | None = None, missing: str = "", error: type = RunFilesError) -> Any:
    """The JSON value in `path`; a missing file or invalid JSON is one `error` naming it
    (`missing` is appended to the "not found" message)."""
    files = files or layer()
    if not files.exists(path):
        raise error(f"{path} not found{missing}")
    try:
        return json.loads(files.read(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"{path}: not valid JSON ({err})") from None


def write_json(path: str, value: Any, files: Files | None = None) -> None:
    (files or layer()).write(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def _json_object(path: str, files: Files | None = None, missing: str = "") -> dict:
    value = read_json(path, files, missing)
    if not isinstance(value, dict):
        raise RunFilesError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def _fields(cls, data: dict, path: str, **extra):
    """cls(**data's fields of cls, **extra); a missing or mistyped field is a RunFilesError naming `path`."""
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names}, **extra)
    except TypeError as err:
        raise RunFilesError(f"{path}: {err}") from None


# ------------------------------------------------------------------------------ tokenizer settings


@dataclasses.dataclass(frozen=True)
class TokenizerSettings:
    """How text becomes the model's input ids: the vocabulary (its kind, size and content
    fingerprint), BERT's uncased normalisation if `lowercase`, the special tokens' ids
    ({pad, unk, cls, sep, mask}; {eos} for a causal LM's byte-level BPE) and the longest input
    in tokens (a causal LM's context)."""
    kind: str  # vocabulary.WORDPIECE or vocabulary.SENTENCEPIECE
    vocab_size: int
    special_token_ids: dict
    lowercase: bool
    max_seq_length: int
    vocab_fingerprint: str = ""  # "" in files written before fingerprints; filled in on reading

    @property
    def file(self) -> str:
        """The file the tokenizer reads, in the run or data directory: vocab.txt or spm.model."""
        return SENTENCEPIECE_MODEL if self.kind == vocabulary.SENTENCEPIECE else VOCAB

    def files(self) -> tuple[str, ...]:
        """Every tokenizer file a directory holds: vocab.txt (the pieces) and spm.model for SentencePiece."""
        return (VOCAB,) if self.file == VOCAB else (VOCAB, SENTENCEPIECE_MODEL)

    @classmethod
    def of_vocabulary(cls, vocab: vocabulary.Vocabulary, lowercase: bool, max_seq_length: int) -> TokenizerSettings:
        return cls(vocab.kind, len(vocab.pieces), dict(vocab.special_ids), bool(lowercase), int(max_seq_length),
                   vocab.fingerprint)

    def to_dict(self) -> dict:
        """data.json's layout (the `tokenizer` section names the file the tokenizer reads)."""
        return {"special_token_ids": dict(self.special_token_ids), "lowercase": self.lowercase,
                "max_seq_length": self.max_seq_length, "vocab_size": self.vocab_size,
                "vocab_fingerprint": self.vocab_fingerprint, "tokenizer": {"type": self.kind, "file": self.file}}

    @classmethod
    def from_dict(cls, data: dict, path: str) -> TokenizerSettings:
        """From data.json's or manifest.json's layout; files without a `tokenizer` section are WordPiece."""
        kind = (data.get("tokenizer") or {}).get("type", vocabulary.WORDPIECE)
        if kind not in (vocabulary.WORDPIECE, vocabulary.SENTENCEPIECE):
            raise RunFilesError(f"{path}: unknown tokenizer type {kind!r}")
        return _fields(cls, data, path, kind=kind)

    def with_fingerprint(self, directory: str, files: Files | None = None) -> TokenizerSettings:
        """These settings with the fingerprint of `directory`'s tokenizer file; one recorded that
        differs from the file's is a RunFilesError (the vocabulary was replaced after the fact)."""
        path = os.path.join(directory, self.file)
        found = read_vocabulary(directory, self, files)
        if self.vocab_fingerprint and self.vocab_fingerprint != found.fingerprint:
            raise RunFilesError(f"{path} is not the vocabulary these files were made with (fingerprint "
                                f"{found.fingerprint}, recorded {self.vocab_fingerprint})")
        if len(found.pieces) != self.vocab_size:
            raise RunFilesError(f"{path} has {len(found.pieces)} pieces, but {self.vocab_size} were recorded")
        return dataclasses.replace(self, vocab_fingerprint=found.fingerprint)


def read_vocabulary(directory: str, settings: TokenizerSettings, files: Files | None = None) -> vocabulary.Vocabulary:
    """The vocabulary of the tokenizer file of `directory` (a run or data directory)."""
    path = os.path.join(directory, settings.file)
    files = files or layer()
    if not files.exists(path):
        raise RunFilesError(f"{path} not found: the directory must hold the vocabulary it was made with")
    try:
        return vocabulary.read(path, files)
    except (UnicodeDecodeError, ValueError) as err:
        raise RunFilesError(f"{path}: {err}") from None


def read_tokenizer(run_dir: str) -> TokenizerSettings:
    """data.json of run `run_dir`, its vocabulary's fingerprint checked against the file."""
    path = os.path.join(run_dir, TOKENIZER)
    settings = TokenizerSettings.from_dict(_json_object(path, missing=_NOT_A_RUN), path)
    return settings.with_fingerprint(run_dir)


def write_tokenizer(run_dir: str, settings: TokenizerSettings, source_dir: str) -> None:
    """Copies the tokenizer files of `source_dir` (a run or data directory) into `run_dir` and
    writes data.json. A run directory that holds another vocabulary is a RunFilesError."""
    files = layer()
    files.makedirs(run_dir)
    settings = settings.with_fingerprint(source_dir)
    if files.exists(os.path.join(run_dir, settings.file)):
        held = read_vocabulary(run_dir, settings)
        if held.fingerprint != settings.vocab_fingerprint:
            raise RunFilesError(f"{run_dir} holds another vocabulary ({os.path.join(run_dir, settings.file)}) than "
                                f"{os.path.join(source_dir, settings.file)}; use a new directory")
    if os.path.normpath(run_dir) != os.path.normpath(source_dir):
        for name in settings.files():
            files.write(os.path.join(run_dir, name), files.read(os.path.join(source_dir, name)))
    write_json(os.path.join(run_dir, TOKENIZER), settings.to_dict())


def write_vocabulary(run_dir: str, pieces, settings: TokenizerSettings) -> TokenizerSettings:
    """Writes WordPiece `pieces` (index = id) as run_dir's vocab.txt and data.json; returns the
    settings with the written vocabulary's fingerprint."""
    files = layer()
    files.makedirs(run_dir)
    files.write(os.path.join(run_dir, VOCAB), vocabulary.vocab_text(pieces).encode("utf-8"))
    settings = dataclasses.replace(settings, vocab_fingerprint="").with_fingerprint(run_dir)
    write_json(os.path.join(run_dir, TOKENIZER), settings.to_dict())
    return settings


def write_sentencepiece(run_dir: str, model: bytes, lowercase: bool, max_seq_length: int) -> TokenizerSettings:
    """Writes a SentencePiece `model` (serialized) as run_dir's spm.model, its pieces as vocab.txt (for
    reading: a line break inside a piece shown as \\n) and data.json; returns the settings."""
    files = layer()
    files.makedirs(run_dir)
    files.write(os.path.join(run_dir, SENTENCEPIECE_MODEL), model)
    vocab = read_vocabulary(run_dir, TokenizerSettings(vocabulary.SENTENCEPIECE, 0, {}, lowercase, max_seq_length))
    shown = [piece.replace("\n", "\\n").replace("\r", "\\r") for piece in vocab.pieces]
    files.write(os.path.join(run_dir, VOCAB), vocabulary.vocab_text(shown).encode("utf-8"))
    settings = TokenizerSettings.of_vocabulary(vocab, lowercase, max_seq_length)
    write_json(os.path.join(run_dir, TOKENIZER), settings.to_dict())
    return settings


# ------------------------------------------------------------------------------------ data manifest


@dataclasses.dataclass(frozen=True)
class Shard:
    file: str
    examples: int = 0
    tokens: int = 0


@dataclasses.dataclass(frozen=True)
class Split:
    """One split's counts; `pattern` (e.g. train-*) and shards are relative to the directory;
    tokens_dropped: causal LM data, the work units' last partial blocks."""
    examples: int
    tokens: int = 0
    documents: int = 0
    pattern: str = ""
    shards: tuple[Shard, ...] = ()
    tokens_dropped: int = 0


# The manifest's top-level counts; what else it holds besides tokenizer fields and splits is
# how the job was run (seed, inputs, format, filters), kept as `job`.
_COUNTS = ("documents_read", "documents_written", "documents_skipped", "examples", "tokens", "dead_letters",
           "tokens_dropped")
_TOKENIZER_KEYS = ("special_token_ids", "lowercase", "max_seq_length", "vocab_size", "vocab_fingerprint",
                   "tokenizer", "vocab_file")


@dataclasses.dataclass(frozen=True)
class DataManifest:
    """manifest.json of a data directory: what trainers need to read its records and how they
    were made. `directory` is where it was read from (not written). objective: ELECTRA_DATA, or
    CAUSAL_LM_DATA (records of max_seq_length + 1 input_ids; tokens_dropped counts the tokens
    left out at the ends of work units). Files of ELECTRA data keep their layout from before
    these two fields (so their fingerprints do not change)."""
    tokenizer: TokenizerSettings
    splits: dict  # {split name: Split}
    documents_read: int = 0
    documents_written: int = 0
    documents_skipped: dict = dataclasses.field(default_factory=dict)  # {reason: documents}
    examples: int = 0
    tokens: int = 0
    dead_letters: int = 0
    tokens_dropped: int = 0
    objective: str = ELECTRA_DATA
    job: dict = dataclasses.field(default_factory=dict)
    directory: str = dataclasses.field(default="", compare=False)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    @property
    def max_seq_length(self) -> int:
        return self.tokenizer.max_seq_length

    @property
    def special_token_ids(self) -> dict:
        return self.tokenizer.special_token_ids

    def fingerprint(self) -> str:
        """16 hex digits identifying the data: sha256 of the manifest's fields."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode("utf-8")).hexdigest()[:16]

    def shard_examples(self) -> dict[str, int]:
        """{shard file name: examples} over every split."""
        return {shard.file: shard.examples for split in self.splits.values() for shard in split.shards}

    def to_dict(self) -> dict:
        t = self.tokenizer
        tokenizer = {"type": t.kind, "vocab_file": VOCAB}
        if t.file != VOCAB:
            tokenizer["model_file"] = t.file
        causal = self.objective == CAUSAL_LM_DATA
        splits = {name: dict(dataclasses.asdict(split), shards=[dataclasses.asdict(s) for s in split.shards])
                  for name, split in self.splits.items()}
        counts = {name: getattr(self, name) for name in _COUNTS}
        if not causal:
            counts.pop("tokens_dropped")
            for split in splits.values():
                split.pop("tokens_dropped")
        return dict(self.job, **counts, splits=splits, **({"objective": self.objective} if causal else {}), special_token_ids=dict(t.special_token_ids),
                    lowercase=t.lowercase, max_seq_length=t.max_seq_length, vocab_size=t.vocab_size,
                    vocab_fingerprint=t.vocab_fingerprint, vocab_file=VOCAB, tokenizer=tokenizer)

    @classmethod
    def from_dict(cls, data: dict, path: str, directory: str = "") -> DataManifest:
        splits = {}
        for name, split in (data.get("splits") or {}).items():
            if not isinstance(split, dict):
                raise RunFilesError(f"{path}: split {name!r} is not an object")
            shards = tuple(_fields(Shard, s, path) for s in split.get("shards", ()))
            splits[name] = _fields(Split, dict(split, shards=shards), path)
        if "train" not in splits:
            raise RunFilesError(f"{path}: no train split; data must come from pipelines.build_pretraining_data")
        job = {k: v for k, v in data.items() if k not in _COUNTS + _TOKENIZER_KEYS + ("splits", "objective")}
        objective = data.get("objective", ELECTRA_DATA)
        if objective not in (ELECTRA_DATA, CAUSAL_LM_DATA):
            raise RunFilesError(f"{path}: unknown objective {objective!r}")
        return cls(TokenizerSettings.from_dict(data, path), splits, job=job, directory=directory, objective=objective,
                   **{k: data[k] for k in _COUNTS if k in data})


def read_manifest(directory: str, files: Files | None = None) -> DataManifest:
    """manifest.json of data directory `directory`, its vocabulary's fingerprint checked against
    the directory's vocabulary file."""
    files = files or layer()
    path = os.path.join(directory, MANIFEST)
    manifest = DataManifest.from_dict(
        _json_object(path, files, ": data must come from pipelines.build_pretraining_data"), path, directory)
    return dataclasses.replace(manifest, tokenizer=manifest.tokenizer.with_fingerprint(directory, files))


def find_manifest(pattern: str) -> DataManifest:
    """The manifest beside the TFRecord files that `pattern` matches."""
    matched = layer().glob(pattern)
    if not matched:
        raise FileNotFoundError(f"no files match {pattern!r}")
    return read_manifest(os.path.dirname(matched[0]))


def write_manifest(directory: str, manifest: DataManifest, files: Files | None = None) -> None:
    write_json(os.path.join(directory, MANIFEST), manifest.to_dict(), files)


# ------------------------------------------------------------------------------ config and labels

_NOT_A_RUN = ": not a run directory of trainers.pretrain, trainers.finetune or trainers.convert"


def has_config(run_dir: str) -> bool:
    return layer().exists(os.path.join(run_dir, CONFIG))


def read_config(run_dir: str) -> PretrainConfig | FinetuneConfig:
    """The run's resolved config, a FinetuneConfig for fine-tuning runs."""
    path = os.path.join(run_dir, CONFIG)
    data = _json_object(path, missing=_NOT_A_RUN)
    cls = FinetuneConfig if "task" in data else PretrainConfig
    try:
        return from_dict(cls, data)
    except (TypeError, ValueError) as err:
        raise RunFilesError(f"{path}: {err}") from None


def run_kind(config) -> str:
    return "fine-tuning" if isinstance(config, FinetuneConfig) else "pre-training"


def write_config(run_dir: str, config, same_model=lambda saved, new: saved == new) -> None:
    """Writes config.json; refuses a directory that holds a run whose model differs
    (`same_model(saved, new)` false) or a run of another kind."""
    files = layer()
    files.makedirs(run_dir)
    if has_config(run_dir):
        saved = read_config(run_dir)
        if type(saved) is not type(config):
            raise RunFilesError(f"{run_dir} holds a {run_kind(saved)} run, not a {run_kind(config)} run; "
                                "use a new --model_dir")
        if not same_model(saved, config):
            raise RunFilesError(f"{run_dir} holds a run with a different model config; use a new --model_dir")
    write_json(os.path.join(run_dir, CONFIG), dataclasses.asdict(config))


def read_labels(run_dir: str) -> list[str]:
    path = os.path.join(run_dir, LABELS)
    labels = read_json(path, missing=": a classification run records its labels there")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise RunFilesError(f"{path}: expected a list of label names")
    return labels


def write_labels(run_dir: str, labels) -> None:
    write_json(os.path.join(run_dir, LABELS), list(labels))


def write_distillation(run_dir: str, config: DistillConfig, teacher: str, layer_map: list[int]) -> None:
    """distillation.json: how the run's model learned from which teacher run (the config.json
    beside it describes the student like any run of its kind)."""
    write_json(os.path.join(run_dir, DISTILLATION),
               {"teacher": teacher, "layer_map": list(layer_map), "config": dataclasses.asdict(config)})


# ------------------------------------------------------------------------------ export records


def export_record(config, tokenizer: TokenizerSettings, labels) -> dict:
    """What a SavedModel of a run serves: the kind of run, its task and labels, its tokenizer."""
    task = config.task.name if isinstance(config, FinetuneConfig) else config.model.objective
    return {"kind": run_kind(config), "task": task, "labels": list(labels) if labels else None,
            "tokenizer": tokenizer.to_dict()}


def write_export_record(saved_model_dir: str, record: dict) -> None:
    layer().makedirs(os.path.dirname(os.path.join(saved_model_dir, EXPORT_RECORD)))
    write_json(os.path.join(saved_model_dir, EXPORT_RECORD), record)


def read_export_record(saved_model_dir: str) -> dict | None:
    """The record of a SavedModel version; None for versions exported before records."""
    path = os.path.join(saved_model_dir, EXPORT_RECORD)
    return _json_object(path) if layer().exists(path) else None


# -------------------------------------------------------------------------------- job records


@dataclasses.dataclass(frozen=True)
class JobRecord:
    """What a run directory's files were made from: the command and its inputs' identities
    ({name: JSON value}: file fingerprints, the pre-trained run, the task, ...)."""
    command: str
    inputs: dict


def differences(recorded: dict, current: dict, limit: int = 3) -> str:
    """What differs between two {name: value} records, as text: "name (recorded R, now C); ..."."""
    def short(value) -> str:
        text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
        return text if len(text) <= 60 else text[:57] + "..."
    changed = [f"{name} (recorded {short(recorded.get(name, '-'))}, now {short(current.get(name, '-'))})"
               for name in sorted(set(recorded) | set(current)) if recorded.get(name) != current.get(name)]
    more = f"; and {len(changed) - limit} more" if len(changed) > limit else ""
    return "; ".join(changed[:limit]) + more


def check_job(run_dir: str, job: JobRecord, owned: tuple[str, ...], overwrite: bool = False) -> bool:
    """Whether `run_dir` already belongs to `job` (a rerun, which may resume); raises if it belongs
    to another. Record the job with record_job once the command's own checks have passed.

    A directory holding another job's record, or files matching the `owned` patterns (what the job
    writes) without a record, is a RunFilesError naming what differs, unless `overwrite`: then the
    owned files are deleted (and listed). Nothing else in the directory is touched. A run
    directory of an older version (config.json without job.json) is taken as this job's: the config
    and vocabulary checks of its writers still guard it.
    """
    files = layer()
    path = os.path.join(run_dir, JOB)
    if files.exists(path):
        recorded = _fields(JobRecord, _json_object(path), path)
        if recorded == job:
            return True
        reason = (f"the output of {recorded.command}" if recorded.command != job.command else
                  f"a run made from other inputs: {differences(recorded.inputs, job.inputs)}")
    elif has_config(run_dir):
        return True
    else:
        present = _owned_files(run_dir, owned)
        if not present:
            return False
        reason = f"files of another job ({', '.join(os.path.basename(p) for p in present[:3])}, ...)"
    if not overwrite:
        raise RunFilesError(f"{run_dir} holds {reason}; use a new directory, or {OVERWRITE_FLAG} to replace it")
    import tensorflow as tf  # run directories are trainers' (TensorFlow's file layer)
    replaced = _owned_files(run_dir, owned + (JOB,))
    print(f"{OVERWRITE_FLAG}: replacing {len(replaced)} file(s) and folder(s) in {run_dir}: "
          f"{', '.join(os.path.basename(p) for p in replaced)}")
    for file in replaced:
        (tf.io.gfile.rmtree if tf.io.gfile.isdir(file) else tf.io.gfile.remove)(file)
    return False


def record_job(run_dir: str, job: JobRecord) -> None:
    files = layer()
    files.makedirs(run_dir)
    write_json(os.path.join(run_dir, JOB), dataclasses.asdict(job))


def _owned_files(directory: str, patterns: tuple[str, ...]) -> list[str]:
    glob = layer().glob
    return sorted({p for pattern in patterns for p in glob(os.path.join(directory, pattern))})


def file_fingerprint(path: str) -> str:
    """16 hex digits of the sha256 of a file's bytes (what a run was made from)."""
    return hashlib.sha256(layer().read(path)).hexdigest()[:16]
