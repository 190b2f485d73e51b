"""Writes the Hugging Face golden files of the conversion tests, or checks an export with transformers.

    python tests/goldens/make_hf_goldens.py                      # rewrite tests/goldens/huggingface/
    python tests/goldens/make_hf_goldens.py --verify_export=DIR --size=small

Needs torch and transformers beside the dev extra (`pip install torch transformers`); the tests
need neither. For each ELECTRA size: a random transformers ElectraForPreTraining
(discriminator/) and ElectraForMaskedLM (generator/), saved by transformers with their tokenizer
(the trainer tests' 64-token vocabulary), and expected.npz with token ids, attention mask, token
types and transformers' logits on them (discriminator (B, T), generator (B, T, V)). Sizes:
  small   embedding 16 != hidden 32 (embeddings_project), 2 heads, FFN 64; generator hidden 8,
          1 head, FFN 16 (x1/4), embeddings equal to the discriminator's (sharing "embeddings")
  base    embedding = hidden = 24, 3 heads, FFN 96; generator hidden 8, 1 head, FFN 32 (x1/3),
          with embeddings of its own (sharing "none")
  uneven  embedding 16, hidden 32, 4 heads, FFN 64 (2x); generator hidden 16 with the release's
          proportions (FFN 64 = 4x, 1 head = 16 / 64) and 1 layer of 2: no one factor gives it
And bert/: one random BertForPreTraining (pretraining/: pooler, masked-LM and next-sentence
heads) with the same weights saved as BertModel (model/: keys without `bert.`, the pooler),
BertForMaskedLM (masked_lm/: no pooler) and BertForSequenceClassification (classification/: a
random classifier of 3 labels, id2label LABELS); hidden 32, 4 heads, FFN 48, 2 layers;
bert/expected.npz holds the inputs, BertModel's last hidden states (B, T, H) and pooled output
(B, H), the masked LM's logits (B, T, V) and the classifier's (B, 3).
Every weight is drawn at random (biases and LayerNorm too), so a misplaced one changes the logits.
--verify_export loads DIR/discriminator and DIR/generator (--size=bert: DIR as BertForMaskedLM
and BertModel) with transformers, fails on missing, unexpected or mismatched weights, and prints
the largest difference from expected.npz.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch
import transformers
from transformers import (BertConfig, BertForMaskedLM, BertForPreTraining, BertForSequenceClassification, BertModel,
                          BertTokenizer, ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining, ElectraTokenizer)

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "huggingface")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(59)]
COMMON = dict(vocab_size=len(VOCAB), num_hidden_layers=2, max_position_embeddings=32, type_vocab_size=2)
SIZES = {
    "small": (dict(embedding_size=16, hidden_size=32, num_attention_heads=2, intermediate_size=64),
              dict(hidden_size=8, num_attention_heads=1, intermediate_size=16), True),
    "base": (dict(embedding_size=24, hidden_size=24, num_attention_heads=3, intermediate_size=96),
             dict(hidden_size=8, num_attention_heads=1, intermediate_size=32), False),
    "uneven": (dict(embedding_size=16, hidden_size=32, num_attention_heads=4, intermediate_size=64),
               dict(hidden_size=16, num_attention_heads=1, intermediate_size=64, num_hidden_layers=1), True),
}
BERT_SIZES = dict(hidden_size=32, num_attention_heads=4, intermediate_size=48)
BERT_MODELS = {"pretraining": BertForPreTraining, "model": BertModel, "masked_lm": BertForMaskedLM,
               "classification": BertForSequenceClassification}
LABELS = ("negative", "neutral", "positive")  # the classifier's id2label


def inputs() -> dict[str, np.ndarray]:
    """Two rows of 12 tokens: a pair (segments 0 and 1), and a single text padded after 9 tokens."""
    rng = np.random.default_rng(7)
    ids = rng.integers(5, len(VOCAB), (2, 12))
    ids[:, 0], ids[0, 5], ids[0, 11], ids[1, 8] = 2, 3, 3, 3
    mask = np.ones((2, 12), np.int64)
    mask[1, 9:], ids[1, 9:] = 0, 0
    segments = np.zeros((2, 12), np.int64)
    segments[0, 6:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": segments}


def randomize(model: torch.nn.Module, generator: torch.Generator) -> None:
    with torch.no_grad():
        for name, weight in model.named_parameters():
            noise = torch.randn(weight.shape, generator=generator) * 0.1
            weight.copy_(1 + noise if "LayerNorm.weight" in name else noise)


def logits(discriminator, generator, batch) -> tuple[np.ndarray, np.ndarray]:
    tensors = {k: torch.tensor(v) for k, v in batch.items()}
    with torch.no_grad():
        return (discriminator.eval()(**tensors).logits.numpy(), generator.eval()(**tensors).logits.numpy())


def write(size: str) -> None:
    disc_sizes, gen_sizes, tied = SIZES[size]
    seed = torch.Generator().manual_seed(11)
    discriminator = ElectraForPreTraining(ElectraConfig(**COMMON, **disc_sizes))
    generator = ElectraForMaskedLM(ElectraConfig(**{**COMMON, **disc_sizes, **gen_sizes}))
    randomize(discriminator, seed)
    randomize(generator, seed)
    if tied:  # the release's generator reads the discriminator's embeddings
        generator.electra.embeddings.load_state_dict(discriminator.electra.embeddings.state_dict())
    batch = inputs()
    disc_logits, gen_logits = logits(discriminator, generator, batch)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = os.path.join(tmp, "vocab.txt")
        with open(vocab_file, "w") as f:
            f.write("\n".join(VOCAB) + "\n")
        tokenizer = ElectraTokenizer(vocab_file, do_lower_case=True, model_max_length=32)
        for name, model in (("discriminator", discriminator), ("generator", generator)):
            model.save_pretrained(os.path.join(HERE, size, name))
            tokenizer.save_pretrained(os.path.join(HERE, size, name))
    np.savez(os.path.join(HERE, size, "expected.npz"), **batch, discriminator_logits=disc_logits,
             generator_logits=gen_logits)
    for name, cls in (("discriminator", ElectraForPreTraining), ("generator", ElectraForMaskedLM)):
        check_loads(cls, os.path.join(HERE, size, name))


def write_bert() -> None:
    """bert/: one random BERT saved as each of BERT_MODELS, and its outputs (see the module doc)."""
    seed = torch.Generator().manual_seed(13)
    pretraining = BertForPreTraining(BertConfig(**COMMON, **BERT_SIZES))
    randomize(pretraining, seed)
    state = pretraining.state_dict()
    models = {"pretraining": pretraining}
    classifier_config = BertConfig(**COMMON, **BERT_SIZES, id2label=dict(enumerate(LABELS)))
    for name in ("model", "masked_lm", "classification"):
        models[name] = BERT_MODELS[name](classifier_config if name == "classification" else pretraining.config)
        prefix = "bert." if name == "model" else ""
        own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        missing = models[name].load_state_dict(own, strict=False).missing_keys
        if name == "classification":
            randomize(models[name].classifier, torch.Generator().manual_seed(17))
            missing = [k for k in missing if not k.startswith("classifier.")]
        if missing:
            raise SystemExit(f"{name}: weights not set from the pre-training model: {missing}")
    batch = inputs()
    tensors = {k: torch.tensor(v) for k, v in batch.items()}
    with torch.no_grad():
        encoded = models["model"].eval()(**tensors)
        mlm_logits = models["masked_lm"].eval()(**tensors).logits.numpy()
        classifier_logits = models["classification"].eval()(**tensors).logits.numpy()
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = os.path.join(tmp, "vocab.txt")
        with open(vocab_file, "w") as f:
            f.write("\n".join(VOCAB) + "\n")
        tokenizer = BertTokenizer(vocab_file, do_lower_case=True, model_max_length=32)
        for name, model in models.items():
            model.save_pretrained(os.path.join(HERE, "bert", name))
            tokenizer.save_pretrained(os.path.join(HERE, "bert", name))
            check_loads(BERT_MODELS[name], os.path.join(HERE, "bert", name))
    np.savez(os.path.join(HERE, "bert", "expected.npz"), **batch, hidden=encoded.last_hidden_state.numpy(),
             pooled=encoded.pooler_output.numpy(), mlm_logits=mlm_logits, classifier_logits=classifier_logits)


def check_loads(cls, directory: str):
    """The model in `directory`, loaded by transformers; raises on missing, unexpected or mismatched weights."""
    model, info = cls.from_pretrained(directory, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise SystemExit(f"{directory}: transformers reports {problems}")
    return model


def verify_bert_export(directory: str) -> dict:
    """Largest differences of a BERT export in `directory` (BertForMaskedLM, with the pooler) from bert/'s goldens."""
    expected = np.load(os.path.join(HERE, "bert", "expected.npz"))
    tensors = {k: torch.tensor(expected[k]) for k in ("input_ids", "attention_mask", "token_type_ids")}
    pooler = {"bert.pooler.dense.weight", "bert.pooler.dense.bias"}  # BertModel's, beside BertForMaskedLM's head
    masked_lm, info = BertForMaskedLM.from_pretrained(directory, output_loading_info=True)
    encoder, encoder_info = BertModel.from_pretrained(directory, output_loading_info=True)
    problems = {"masked LM missing": info["missing_keys"], "masked LM mismatched": info["mismatched_keys"],
                "masked LM unexpected": set(info["unexpected_keys"]) - pooler,
                "BertModel missing": encoder_info["missing_keys"],
                "BertModel mismatched": encoder_info["mismatched_keys"]}
    if any(problems.values()):
        raise SystemExit(f"{directory}: transformers reports {problems}")
    with torch.no_grad():
        logits = masked_lm.eval()(**tensors).logits.numpy()
        encoded = encoder.eval()(**tensors)
    transformers.AutoTokenizer.from_pretrained(directory)
    return {"mlm_logits_max_abs_diff": float(np.abs(logits - expected["mlm_logits"]).max()),
            "hidden_max_abs_diff": float(np.abs(encoded.last_hidden_state.numpy() - expected["hidden"]).max()),
            "pooled_max_abs_diff": float(np.abs(encoded.pooler_output.numpy() - expected["pooled"]).max())}


def verify_export(directory: str, size: str) -> dict:
    """Largest |logit difference| of the export in `directory` from the goldens of `size`."""
    if size == "bert":
        return verify_bert_export(directory)
    expected = np.load(os.path.join(HERE, size, "expected.npz"))
    batch = {k: expected[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    discriminator = check_loads(ElectraForPreTraining, os.path.join(directory, "discriminator"))
    generator = check_loads(ElectraForMaskedLM, os.path.join(directory, "generator"))
    disc_logits, gen_logits = logits(discriminator, generator, batch)
    transformers.AutoTokenizer.from_pretrained(os.path.join(directory, "discriminator"))
    return {"discriminator_max_abs_diff": float(np.abs(disc_logits - expected["discriminator_logits"]).max()),
            "generator_max_abs_diff": float(np.abs(gen_logits - expected["generator_logits"]).max())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--verify_export", default="")
    p.add_argument("--size", default="small", choices=sorted([*SIZES, "bert"]))
    args = p.parse_args(argv)
    if args.verify_export:
        print(json.dumps(dict(verify_export(args.verify_export, args.size), size=args.size,
                              torch=torch.__version__, transformers=transformers.__version__)))
        return 0
    for size in SIZES:
        write(size)
    write_bert()
    with open(os.path.join(HERE, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__}, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
