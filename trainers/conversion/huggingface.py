"""Hugging Face ELECTRA and BERT directories: ELECTRA's discriminator (ElectraForPreTraining) and
generator (ElectraForMaskedLM), or one BERT (BertModel, BertForMaskedLM, BertForPreTraining,
BertForSequenceClassification), each config.json + model.safetensors (sharded, or
pytorch_model.bin read with torch) and the tokenizer files (huggingface_tokenizer.py).

A key is the release name (model_weights.py) with `.` for `/`, `layer.N` for `layer_N`, `weight`
for kernels (stored (out, in): transposed), LayerNorm gamma and embedding tables, `bias` for
beta, `dense_prediction` for the discriminator's `dense_1`, `generator_lm_head.bias` for
`generator_predictions/output_bias` and `cls.predictions.bias` for `cls/predictions/output_bias`;
the generator's encoder (the release's `generator/`) is `electra.` in its own file, which also
holds the embeddings it shares. The output layers tied to the word embeddings
(`generator_lm_head.weight`, `cls.predictions.decoder.weight`) are left out of the files
transformers saves. A BertModel's keys lack the `bert.` prefix; older files name LayerNorm
weights gamma and beta. BERT's pooler, masked-LM head and sequence classifier are imported where
the file has them (a BERT run is a masked LM, objective "mlm"); the next-sentence head is left out
(said in a note). Safetensors are read without torch.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable

import numpy as np
import safetensors.numpy
import tensorflow as tf

from configs import EncoderConfig
from trainers.conversion import huggingface_tokenizer
from trainers.conversion.converted_model import (ConvertedModel, GeneratorSizes, ImportedClassifier, assign,
                                                 build_pretrainer, check_vocab_size, imported_bert_config,
                                                 imported_config)
from trainers.conversion.errors import ConversionError
from trainers.conversion.files import read_json, write_json
from trainers.conversion.model_weights import (DISCRIMINATOR, GENERATOR, is_bert, named_variables,
                                               shared_with_generator)

CONFIG, SAFETENSORS, TORCH = "config.json", "model.safetensors", "pytorch_model.bin"
ARCHITECTURES = {"discriminator": "ElectraForPreTraining", "generator": "ElectraForMaskedLM"}
BERT_ARCHITECTURES = ("BertModel", "BertForMaskedLM", "BertForPreTraining", "BertForSequenceClassification")
HEADS = {"discriminator": "discriminator_predictions.dense.weight", "generator": "generator_predictions.dense.weight"}
WORD_EMBEDDINGS = {"electra": "electra.embeddings.word_embeddings.weight",
                   "bert": "bert.embeddings.word_embeddings.weight"}
# Output layers tied to the word embeddings: {key: the key it must equal}.
TIED = {"generator_lm_head.weight": WORD_EMBEDDINGS["electra"],
        "cls.predictions.decoder.weight": WORD_EMBEDDINGS["bert"],
        "cls.predictions.decoder.bias": "cls.predictions.bias"}
BUFFERS = tuple(f"{m}.embeddings.{b}" for m in ("electra", "bert") for b in ("position_ids", "token_type_ids"))
BERT_POOLER, BERT_MLM_HEAD, BERT_CLASSIFIER = ("bert.pooler.dense.weight", "cls.predictions.transform.dense.weight",
                                              "classifier.weight")
# BERT's head that no run here holds: next-sentence prediction.
BERT_NSP = "cls.seq_relationship."
# ElectraConfig's and BertConfig's defaults, for keys a config.json leaves out (BERT: embedding = hidden).
DEFAULTS = {"vocab_size": 30522, "embedding_size": 128, "hidden_size": 256, "num_hidden_layers": 12,
            "num_attention_heads": 4, "intermediate_size": 1024, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
            "initializer_range": 0.02, "layer_norm_eps": 1e-12}
BERT_DEFAULTS = dict(DEFAULTS, hidden_size=768, num_attention_heads=12, intermediate_size=3072)
SHARED_SIZES = ("vocab_size", "embedding_size", "max_position_embeddings", "type_vocab_size", "layer_norm_eps")


def hf_key(name: str) -> tuple[str, bool]:
    """(key in its file, whether stored transposed) of release name `name`."""
    if name == "generator_predictions/output_bias":
        return "generator_lm_head.bias", False
    if name == "cls/predictions/output_bias":
        return "cls.predictions.bias", False
    if name.startswith(f"{GENERATOR}/"):
        name = DISCRIMINATOR + name[len(GENERATOR):]
    parts = [re.sub(r"^layer_(\d+)$", r"layer.\1", "dense_prediction" if p == "dense_1" else p)
             for p in name.split("/")]
    leaf = parts.pop()
    if leaf.endswith("_embeddings"):
        parts += [leaf, "weight"]
    else:
        parts.append({"kernel": "weight", "gamma": "weight", "beta": "bias", "bias": "bias"}[leaf])
    return ".".join(parts), leaf == "kernel"


def file_keys(names: Iterable[str], role: str, sharing: str) -> dict[str, tuple[str, bool]]:
    """{key: (release name, transposed)} of the weights in the `role` ("discriminator", "generator"
    or "bert": every weight) file of a model with these release names and `sharing`."""
    keys = {}
    for name in names:
        generator_weight = name.startswith(GENERATOR)
        if role == "bert" or ((not generator_weight) if role == "discriminator" else (
                generator_weight or shared_with_generator(name, sharing))):
            key, transposed = hf_key(name)
            keys[key] = (name, transposed)
    return keys


def _load_safetensors(path: str) -> dict[str, np.ndarray]:
    with tf.io.gfile.GFile(path, "rb") as f:
        try:
            return safetensors.numpy.load(f.read())
        except Exception as err:  # noqa: BLE001 (safetensors raises its own error types)
            raise ConversionError(f"{path}: not a readable safetensors file ({err})") from None


def _load_torch(path: str) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise ConversionError(f"{path}: reading pytorch_model.bin needs PyTorch (pip install torch), or save the "
                              "model as model.safetensors") from None
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in state.items()}


def _standard_keys(tensors: dict[str, np.ndarray], model_type: str) -> dict[str, np.ndarray]:
    """`tensors` with the keys transformers saves today: LayerNorm gamma/beta as weight/bias and,
    for a BertModel's file, the `bert.` prefix."""
    renamed = {re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", k)): v
               for k, v in tensors.items()}
    if model_type == "bert" and WORD_EMBEDDINGS["bert"] not in renamed:
        bare = ("embeddings.", "encoder.", "pooler.")
        renamed = {f"bert.{k}" if k.startswith(bare) else k: v for k, v in renamed.items()}
    return renamed


class ModelFiles:
    """One Hugging Face model directory: config.json, its weights and the role they play
    ("discriminator" or "generator" of an ELECTRA, or "bert")."""

    def __init__(self, directory: str, role: str):
        self.directory, self.role = directory, role
        self.config_path = os.path.join(directory, CONFIG)
        if not tf.io.gfile.exists(self.config_path):
            raise ConversionError(f"{self.config_path} not found: not a Hugging Face model directory")
        self.config = read_json(self.config_path)
        model_type = self.config.get("model_type")
        if model_type not in ("electra", "bert"):
            raise ConversionError(f"{self.config_path}: model_type {model_type!r} is neither ELECTRA nor BERT; this "
                                  f"converter reads {', '.join((*ARCHITECTURES.values(), *BERT_ARCHITECTURES))}")
        if model_type == "bert":
            if role == "generator":
                raise ConversionError(f"{self.config_path}: a BERT model is not an ELECTRA generator; convert it "
                                      "alone (--from, without --generator)")
            self.role = "bert"
        path, tensors = self._load()
        self.weights_path, self.tensors = path, _standard_keys(tensors, model_type)
        self._check_role()

    def _load(self) -> tuple[str, dict[str, np.ndarray]]:
        single, torch_file = os.path.join(self.directory, SAFETENSORS), os.path.join(self.directory, TORCH)
        index = single + ".index.json"
        if tf.io.gfile.exists(single):
            return single, _load_safetensors(single)
        if tf.io.gfile.exists(index):
            tensors = {}
            for name in sorted(set(read_json(index).get("weight_map", {}).values())):
                tensors.update(_load_safetensors(os.path.join(self.directory, name)))
            return index, tensors
        if tf.io.gfile.exists(torch_file):
            return torch_file, _load_torch(torch_file)
        raise ConversionError(f"{self.directory}: no {SAFETENSORS} or {TORCH}")

    def _check_role(self) -> None:
        architectures = self.config.get("architectures") or [None]
        if self.role == "bert":
            if architectures[0] not in (None, *BERT_ARCHITECTURES):
                raise ConversionError(f"{self.config_path}: {architectures[0]} cannot be converted; this converter "
                                      f"reads {', '.join(BERT_ARCHITECTURES)}")
            return
        found, expected = architectures[0], ARCHITECTURES[self.role]
        if found in (None, expected) and HEADS[self.role] in self.tensors:
            return
        if self.role == "discriminator" and (found == ARCHITECTURES["generator"] or HEADS["generator"] in self.tensors):
            raise ConversionError(f"{self.config_path}: this is a generator ({ARCHITECTURES['generator']}); give the "
                                  f"discriminator ({expected}) as --from and this directory as --generator")
        raise ConversionError(f"{self.config_path}: {found or 'a model without ' + HEADS[self.role]} is not the "
                              f"{self.role} ({expected}) expected here")

    def get(self, key: str):
        """config.json's `key`, else ElectraConfig's or BertConfig's default."""
        return self.config.get(key, (BERT_DEFAULTS if self.role == "bert" else DEFAULTS)[key])

    def encoder(self) -> EncoderConfig:
        """The encoder sizes of config.json (the defaults for missing keys; BERT's embedding width
        is its hidden size)."""
        get = self.get
        for key, allowed in (("hidden_act", "gelu"), ("position_embedding_type", "absolute"),
                             ("is_decoder", False), ("add_cross_attention", False)):
            if self.config.get(key, allowed) != allowed:
                raise ConversionError(f"{self.config_path}: {key} {self.config[key]!r} cannot be represented "
                                      f"(this project's encoder has {allowed!r})")
        try:
            return EncoderConfig(
                vocab_size=get("vocab_size"), hidden_size=get("hidden_size"),
                embedding_size=get("hidden_size" if self.role == "bert" else "embedding_size"),
                num_layers=get("num_hidden_layers"), num_heads=get("num_attention_heads"),
                intermediate_size=get("intermediate_size"), max_position_embeddings=get("max_position_embeddings"),
                type_vocab_size=get("type_vocab_size"), dropout_rate=get("hidden_dropout_prob"),
                attention_dropout_rate=get("attention_probs_dropout_prob"),
                initializer_range=get("initializer_range"), layer_norm_epsilon=get("layer_norm_eps"))
        except ValueError as err:
            raise ConversionError(f"{self.config_path}: {err}") from None

    def tensor(self, key: str) -> np.ndarray:
        if key not in self.tensors:
            model = (self.config.get("architectures") or ["BertModel"])[0] if self.role == "bert" else \
                ARCHITECTURES[self.role]
            raise ConversionError(f"{self.weights_path}: no weight {key} (a {model} of {self.config_path}'s sizes "
                                  "has it)")
        return self.tensors[key]

    def check_all_used(self, keys: Iterable[str]) -> None:
        """Raises ConversionError for weights of the file that `keys` leave out (other than buffers,
        BERT's heads left out on purpose, and output layers equal to the weights they are tied to)."""
        unused = sorted(set(self.tensors) - set(keys) - set(BUFFERS))
        if self.role == "bert":
            unused = [k for k in unused if not k.startswith(BERT_NSP)]
        for key in [k for k in unused if k in TIED]:
            if not np.array_equal(self.tensors[key], self.tensor(TIED[key])):
                raise ConversionError(f"{self.weights_path}: {key} differs from {TIED[key]}: an untied output "
                                      "layer cannot be represented (it is tied to the word embeddings here)")
            unused.remove(key)
        if unused:
            raise ConversionError(f"{self.weights_path}: weights not in an ELECTRA or BERT layout this converter "
                                  f"knows: {', '.join(unused[:5])}{' ...' if len(unused) > 5 else ''}")


def _directories(path: str, generator: str | None) -> tuple[str, str | None]:
    """(discriminator directory, generator directory or None) of --from and --generator."""
    nested = os.path.join(path, "discriminator")
    if not generator and tf.io.gfile.exists(os.path.join(nested, CONFIG)):
        path = nested
        generator = os.path.join(os.path.dirname(nested), "generator")
        if not tf.io.gfile.exists(os.path.join(generator, CONFIG)):
            generator = None
    return path, generator


def _sharing(discriminator: ModelFiles, generator: ModelFiles) -> str:
    """"embeddings" if the generator's embedding weights equal the discriminator's, else "none"."""
    keys = [k for k in generator.tensors if k.startswith("electra.embeddings.") and k not in BUFFERS]
    same = all(k in discriminator.tensors and np.array_equal(discriminator.tensors[k], generator.tensors[k])
               for k in keys)
    return "embeddings" if same else "none"


def read(path: str, generator: str | None = None, vocab: str | None = None, lowercase: bool | None = None,
         generator_size: float | None = None) -> ConvertedModel:
    """Imports the discriminator in `path` (or `path`/discriminator with `path`/generator) and the
    generator in `generator`; without a generator, a new one is sized by `generator_size`. A BERT
    in `path` is imported alone (read_bert)."""
    disc_dir, gen_dir = _directories(path, generator)
    disc = ModelFiles(disc_dir, "discriminator")
    if disc.role == "bert":
        if generator or generator_size is not None:
            raise ConversionError(f"{disc.config_path}: a BERT model has no generator; leave out --generator and "
                                  "--generator_size")
        return read_bert(disc, vocab, lowercase)
    gen = ModelFiles(gen_dir, "generator") if gen_dir else None
    encoder, notes = disc.encoder(), []
    sizes, sharing = None, "embeddings"
    if gen is None:
        notes.append("no generator given: continuing pre-training starts a new one (random weights) sharing the "
                     "imported embeddings")
    else:
        g = gen.encoder()
        for key in SHARED_SIZES:
            if gen.config.get(key, DEFAULTS[key]) != disc.config.get(key, DEFAULTS[key]):
                raise ConversionError(f"{gen.config_path}: {key} {gen.config.get(key, DEFAULTS[key])} differs from "
                                      f"the discriminator's {disc.config.get(key, DEFAULTS[key])} ({disc.config_path})")
        sizes = GeneratorSizes(g.hidden_size, g.num_heads, g.intermediate_size, g.num_layers)
        sharing = _sharing(disc, gen)
        if sharing == "none":
            notes.append("the generator's embeddings differ from the discriminator's: imported with sharing 'none' "
                         "(each keeps its own)")
    tokenizer_dir = next((d for d in (disc_dir, gen_dir) if d and huggingface_tokenizer.has_files(d)), disc_dir)
    tokenizer, vocab_file = huggingface_tokenizer.read(tokenizer_dir, vocab, lowercase,
                                                       encoder.max_position_embeddings)
    check_vocab_size(tokenizer, vocab_file, disc.tensor(WORD_EMBEDDINGS["electra"]).shape[0],
                     f"{disc.weights_path}: {WORD_EMBEDDINGS['electra']}")
    config = imported_config(encoder, sizes, sharing, generator_size, (gen or disc).config_path)
    model = build_pretrainer(config, tokenizer.special_ids(vocab_file))
    names = named_variables(model, disc.config_path)
    for files in filter(None, (disc, gen)):
        keys = file_keys(names, files.role, sharing)
        for key, (name, transposed) in keys.items():
            assign(names[name], files.tensor(key), files.weights_path, key, files.config_path, transposed)
        files.check_all_used(keys)
    return ConvertedModel(config, model, tokenizer, notes)


def _classifier(files: ModelFiles) -> ImportedClassifier:
    """A BertForSequenceClassification's head: its labels from id2label (regression: one output
    with problem_type "regression")."""
    kernel, bias = files.tensor(BERT_CLASSIFIER), files.tensor("classifier.bias")
    outputs = kernel.shape[0]
    if files.config.get("problem_type") == "regression" or outputs == 1:
        return ImportedClassifier(np.ascontiguousarray(kernel.T), bias, None)
    id2label = files.config.get("id2label") or {}
    labels = tuple(str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(outputs))
    if len(set(labels)) != outputs:
        raise ConversionError(f"{files.config_path}: id2label {id2label} does not name {outputs} different labels")
    return ImportedClassifier(np.ascontiguousarray(kernel.T), bias, labels)


def read_bert(files: ModelFiles, vocab: str | None, lowercase: bool | None) -> ConvertedModel:
    """Imports a BERT as a masked LM (objective "mlm") with its pooler where the file has one; a
    file without the masked-LM head (BertModel, BertForSequenceClassification) gets a new one
    (random weights) for continued pre-training. A sequence classifier on the pooler comes with
    it (a run directory then holds a fine-tuned classification or regression run)."""
    encoder = files.encoder()
    tokenizer, vocab_file = huggingface_tokenizer.read(files.directory, vocab, lowercase,
                                                       encoder.max_position_embeddings)
    check_vocab_size(tokenizer, vocab_file, files.tensor(WORD_EMBEDDINGS["bert"]).shape[0],
                     f"{files.weights_path}: {WORD_EMBEDDINGS['bert']}")
    config = imported_bert_config(encoder, BERT_POOLER in files.tensors)
    model = build_pretrainer(config, tokenizer.special_ids(vocab_file))
    head = BERT_MLM_HEAD in files.tensors
    names = named_variables(model, files.config_path)
    keys = file_keys(names, "bert", "none")
    for key, (name, transposed) in keys.items():
        if head or not key.startswith("cls."):
            assign(names[name], files.tensor(key), files.weights_path, key, files.config_path, transposed)
    classifier = _classifier(files) if BERT_CLASSIFIER in files.tensors else None
    if classifier is not None and not config.model.pooler:
        raise ConversionError(f"{files.weights_path}: a classifier without {BERT_POOLER} cannot be represented "
                              "(BertForSequenceClassification classifies from the pooler)")
    used = [k for k in keys if head or not k.startswith("cls.")]
    files.check_all_used(used + (["classifier.weight", "classifier.bias"] if classifier else []))
    notes = []
    if classifier is not None:
        notes.append(f"a sequence classifier ({', '.join(classifier.labels) if classifier.labels else 'regression'}):"
                     " a run directory holds it as a fine-tuned run (trainers.export, finetune --eval_only)")
    elif not head:
        notes.append("no masked-LM head: continuing pre-training starts a new one (random weights)")
    if not config.model.pooler:
        notes.append("no pooler: fine-tuning classifies from [CLS] itself, as ELECTRA does")
    if any(k.startswith(BERT_NSP) for k in files.tensors):
        notes.append("left out the next-sentence head (cls.seq_relationship; no objective here trains it)")
    return ConvertedModel(config, model, tokenizer, notes, classifier)


def hf_config(encoder: EncoderConfig, role: str, pad_id: int) -> dict:
    """config.json of the `role` model ("discriminator", "generator": ElectraConfig's keys; "bert": a
    BertForMaskedLM's) with `encoder`'s sizes."""
    config = {
        "architectures": [ARCHITECTURES.get(role, "BertForMaskedLM")], "model_type": "bert" if role == "bert" else
        "electra", "vocab_size": encoder.vocab_size, "hidden_size": encoder.hidden_size,
        "num_hidden_layers": encoder.num_layers, "num_attention_heads": encoder.num_heads,
        "intermediate_size": encoder.intermediate_size, "hidden_act": "gelu",
        "hidden_dropout_prob": encoder.dropout_rate, "attention_probs_dropout_prob": encoder.attention_dropout_rate,
        "max_position_embeddings": encoder.max_position_embeddings, "type_vocab_size": encoder.type_vocab_size,
        "initializer_range": encoder.initializer_range, "layer_norm_eps": encoder.layer_norm_epsilon,
        "pad_token_id": pad_id, "tie_word_embeddings": True, "dtype": "float32",
    }
    if role != "bert":
        config.update(embedding_size=encoder.embedding_size, summary_type="first", summary_use_proj=True,
                      summary_activation="gelu", summary_last_dropout=0.1)
    return config


def write(converted: ConvertedModel, out_dir: str) -> list[str]:
    """Writes OUT/discriminator and OUT/generator (config.json, model.safetensors, tokenizer files);
    a masked LM (a BERT run) as one BertForMaskedLM directory OUT, with its pooler where it has one."""
    if converted.classifier is not None:
        raise ConversionError(f"{out_dir}: a sequence classifier converts into a run directory (--to_format=run)")
    names = named_variables(converted.model)
    model_config = converted.config.model
    pad_id = converted.tokenizer.special_ids(out_dir)["pad"]
    if is_bert(model_config):
        directories = {"bert": (out_dir, model_config.encoder)}
    else:
        directories = {"discriminator": (os.path.join(out_dir, "discriminator"), model_config.encoder),
                       "generator": (os.path.join(out_dir, "generator"), model_config.generator_encoder())}
    for directory, _ in directories.values():
        target = os.path.join(directory, SAFETENSORS)
        if tf.io.gfile.exists(target):
            raise ConversionError(f"{target} exists; convert into a new directory")
    for role, (directory, encoder) in directories.items():
        tf.io.gfile.makedirs(directory)
        tensors = {}
        for key, (name, transposed) in file_keys(names, role, model_config.sharing).items():
            value = np.asarray(names[name].numpy(), np.float32)
            tensors[key] = np.ascontiguousarray(value.T) if transposed else value
        with tf.io.gfile.GFile(os.path.join(directory, SAFETENSORS), "wb") as f:
            f.write(safetensors.numpy.save(tensors, metadata={"format": "pt"}))
        write_json(os.path.join(directory, CONFIG), hf_config(encoder, role, pad_id))
        huggingface_tokenizer.write(directory, converted.tokenizer,
                                    "BertTokenizer" if role == "bert" else "ElectraTokenizer")
    return []
