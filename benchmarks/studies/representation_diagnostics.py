"""Why a pre-trained discriminator does or does not transfer: held-out RTD diagnostics and
representation statistics of the pre-trained discriminator beside a random initialisation
of the same architecture; prints JSON.

    python -m benchmarks.studies.representation_diagnostics --model_dir=runs/demo/model \
        --eval_data='runs/demo/tfrecords/heldout-*' --train_data='runs/demo/tfrecords/train-*' \
        [--text_train=data/sentiment/train.tsv --text_eval=data/sentiment/dev.tsv] [--batches=10]

rtd (pre-trained model, held-out data, no dropout):
  disc_loss / constant_disc_loss: as trainers.pretrain's evaluation (models.rtd_loss,
    trainers.baselines); disc_auc: exact ROC AUC over the tokens (the evaluation's is bucketed);
  token_prior_auc: AUC of a context-free detector that scores each token of the
    corrupted input by P(replaced | token id), counted on --train_data with the same
    model's samples (add-one smoothing). A discriminator near it uses token identity only;
  masked_auc: the discriminator's AUC among the masked positions alone (replaced
    samples against samples equal to the original);
  generator: masked-LM accuracy, sampled accuracy, mean entropy (nats) of its
    softmax at the masked positions, and the entropy of the targets' unigram distribution.
representations (pre-trained and random; on held-out Wikipedia sequences and on the
task's sentences), per level (0 = the embedding output after projection, i = layer i):
  rms: root-mean-square activation of non-padding tokens;
  anisotropy: mean cosine similarity of token vectors from different sequences;
  effective_rank: exp(entropy of the normalised singular values) of the centred
    token matrix (at most 2,000 tokens), of H dimensions;
  cls_spread: std of the [CLS] vector across sequences (mean over dimensions) over its rms;
  attention_entropy: mean entropy of the attention distributions over the keys,
    divided by log(keys) (1 = uniform), averaged over heads and queries; and the lowest head;
  layer_norm_gamma: mean |gamma| of each LayerNorm (weights, not data).
frozen_features (with --text_train/--text_eval): logistic regression on the frozen [CLS]
  vector and on the mean-pooled last layer, trained on (at most 4,000) task sentences.
"""
import argparse
import contextlib
import json
import os
import sys

import keras
import numpy as np
import tensorflow as tf
from scipy.special import expit
from scipy.stats import entropy
from sklearn.metrics import roc_auc_score

from benchmarks.flags import require_matches, require_positive
from core import cli
from models.pretrainer import ElectraPretrainer
from models.rtd_loss import rtd_metrics, rtd_statistics
from pipelines.tokenization import Tokenizer
from trainers.baselines import constant_disc_loss
from trainers.input_data import make_dataset
from trainers.model_loading import load_pretrainer
from trainers.text_features import encode_texts
from trainers.tasks.labelled_files import read_labelled_texts

MAX_TOKENS = 2000  # tokens per level for the effective rank and anisotropy


def parse_args(argv=None):
    p = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model_dir", required=True, help="a run directory of trainers.pretrain")
    p.add_argument("--checkpoint", default="", help="a checkpoint prefix in it (default: the latest)")
    p.add_argument("--eval_data", required=True, help="held-out TFRecords")
    p.add_argument("--train_data", default="", help="training TFRecords, for the token-prior detector")
    p.add_argument("--text_train", default="", help="labelled task sentences (TSV) for frozen features")
    p.add_argument("--text_eval", default="", help="their evaluation split")
    p.add_argument("--text_column", default="sentence")
    p.add_argument("--label_column", default="label")
    p.add_argument("--max_seq_length", type=int, default=64, help="of the task's sentences")
    p.add_argument("--batches", type=int, default=10, help="batches of 32 for each measurement")
    p.add_argument("--seed", type=int, default=0, help="of the random initialisation")
    args = p.parse_args(argv)
    if bool(args.text_train) != bool(args.text_eval):
        p.error("--text_train and --text_eval go together (frozen features need both)")
    return args


def check_inputs(args) -> None:
    """The files the measurements read, and their numbers, checked before the model is loaded."""
    require_positive(args, "batches", "max_seq_length")
    if not os.path.isdir(args.model_dir):
        raise cli.UserError(f"--model_dir {args.model_dir} is not a directory; give a run of trainers.pretrain")
    if args.checkpoint and not os.path.exists(args.checkpoint + ".index"):
        raise cli.UserError(f"--checkpoint {args.checkpoint}: no {args.checkpoint}.index; give a checkpoint "
                            f"prefix such as {args.model_dir}/ckpt-1000")
    require_matches(args.eval_data, "--eval_data")
    if args.train_data:
        require_matches(args.train_data, "--train_data")
    for path in filter(None, (args.text_train, args.text_eval)):
        read_labelled_texts(path, [args.text_column], args.label_column)


def auc(labels, scores) -> float:
    """Exact ROC AUC (ties count half); nan unless both labels occur."""
    return float(roc_auc_score(labels, scores)) if 0 < np.mean(labels) < 1 else float("nan")


def rtd_outputs(model, pattern: str, length: int, batches: int):
    """Over `batches` batches of 32: the summed `models.rtd_loss.rtd_statistics`; per token the
    discriminator weighs, its corrupted id, label (1 = replaced), logit and whether its position
    was masked; and the generator's targets at the masked positions."""
    totals, tokens, targets = None, {k: [] for k in ("ids", "labels", "logits", "masked")}, []
    for batch in make_dataset(pattern, 32, length, training=False, seed=0).take(batches):
        out = model(batch, training=False)
        stats = {k: np.asarray(v) for k, v in rtd_statistics(out).items()}
        totals = stats if totals is None else {k: totals[k] + v for k, v in stats.items()}
        keep = np.asarray(out["disc_weights"]) > 0
        hits = tf.reduce_sum(tf.one_hot(out["mlm_positions"], length) * out["mlm_weights"][..., None], 1)
        for name, value in (("ids", out["disc_input_ids"]), ("labels", out["disc_labels"]),
                            ("logits", out["disc_logits"]), ("masked", hits.numpy() > 0)):
            tokens[name].append(np.asarray(value)[keep])
        targets.append(np.asarray(out["mlm_targets"])[np.asarray(out["mlm_weights"]) > 0])
    return totals, {k: np.concatenate(v) for k, v in tokens.items()}, np.concatenate(targets)


def rtd_diagnostics(model, eval_pattern: str, train_pattern: str, length: int, batches: int) -> dict:
    totals, tokens, targets = rtd_outputs(model, eval_pattern, length, batches)
    metrics = {k: float(v) for k, v in rtd_metrics(totals).items()}
    labels, logits, masked = tokens["labels"], tokens["logits"], tokens["masked"]
    result = {
        "tokens": len(labels), "replaced_fraction": metrics["replaced_fraction"],
        "disc_auc": auc(labels, logits), "disc_loss": metrics["disc_loss"],
        "constant_disc_loss": constant_disc_loss(metrics["replaced_fraction"]),
        "disc_mean_probability_replaced": float(np.mean(expit(logits[labels == 1]))),
        "disc_mean_probability_original": float(np.mean(expit(logits[labels == 0]))),
        "masked_auc": auc(labels[masked], logits[masked]),
        "generator": {
            "mlm_accuracy": metrics["mlm_accuracy"],
            "sampled_accuracy": metrics["sampled_accuracy"],
            "mean_entropy": metrics["generator_entropy"],
            "target_unigram_entropy": float(entropy(np.bincount(targets))),
        },
    }
    if train_pattern:
        _, train, _ = rtd_outputs(model, train_pattern, length, 3 * batches)
        v = model.config.encoder.vocab_size
        replaced = np.bincount(train["ids"], weights=train["labels"], minlength=v)
        seen = np.bincount(train["ids"], minlength=v)
        prior = (replaced + 1) / (seen + 2)
        result["token_prior_auc"] = auc(labels, prior[tokens["ids"]])
    return result


def effective_rank(matrix: np.ndarray) -> float:
    """exp(entropy of the normalised singular values) of the centred (N, H) matrix: 1 to H."""
    return float(np.exp(entropy(np.linalg.svd(matrix - matrix.mean(0), compute_uv=False))))


def representation_statistics(encoder, features: dict, batches: int, seed: int = 0) -> dict:
    """Statistics per level (module doc) over the first `batches` x 32 sequences of `features`."""
    n = min(len(features["input_ids"]), 32 * batches)
    rng = np.random.default_rng(seed)
    per_level, attention_entropy = None, []
    for start in range(0, n, 32):
        sl = slice(start, min(start + 32, n))
        ids, mask, seg = (tf.constant(features[k][sl]) for k in ("input_ids", "input_mask", "segment_ids"))
        layers = encoder(ids, mask, seg, training=False, return_layers=True)
        states, attentions = layers["hidden_states"], layers["attention_probabilities"]
        keep = features["input_mask"][sl] > 0
        if per_level is None:
            per_level = [{"tokens": [], "cls": []} for _ in states]
        for level, h in zip(per_level, states):
            h = h.numpy()
            level["tokens"].append(h[keep])
            level["cls"].append(h[:, 0])
        for i, a in enumerate(attentions):
            ent = entropy(np.asarray(a), axis=-1)  # (B, heads, T); padding keys have probability ~0
            keys = np.maximum(keep.sum(1), 2)[:, None, None]
            normalised = ent / np.log(keys)
            q = keep[:, None, :]
            if len(attention_entropy) <= i:
                attention_entropy.append([])
            attention_entropy[i].append(np.stack([normalised[:, h][q[:, 0]] for h in range(a.shape[1])]))
    result = []
    for i, level in enumerate(per_level):
        tokens, cls = np.concatenate(level["tokens"]), np.concatenate(level["cls"])
        sample = tokens[rng.choice(len(tokens), min(MAX_TOKENS, len(tokens)), replace=False)]
        unit = sample / np.maximum(np.linalg.norm(sample, axis=1, keepdims=True), 1e-12)
        half = len(unit) // 2
        rms = float(np.sqrt(np.mean(tokens ** 2)))
        stats = {
            "level": i, "rms": rms,
            "anisotropy": float(np.mean(np.sum(unit[:half] * unit[half:2 * half], 1))),
            "effective_rank": effective_rank(sample),
            "cls_spread": float(np.mean(cls.std(0)) / max(np.sqrt(np.mean(cls ** 2)), 1e-12)),
            "cls_effective_rank": effective_rank(cls),
        }
        if i > 0:
            heads = np.concatenate(attention_entropy[i - 1], axis=1).mean(1)
            stats["attention_entropy"] = float(heads.mean())
            stats["attention_entropy_lowest_head"] = float(heads.min())
        result.append(stats)
    return result


def layer_norm_gammas(encoder) -> dict:
    return {v.path: float(np.mean(np.abs(v.numpy()))) for v in encoder.variables if v.path.endswith("gamma")}


def frozen_features(encoder, train: dict, evaluation: dict) -> dict:
    """Logistic-regression accuracy on frozen [CLS] and mean-pooled last-layer vectors."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def vectors(features):
        cls, mean = [], []
        for start in range(0, len(features["input_ids"]), 64):
            batch = {k: tf.constant(features[k][start:start + 64]) for k in ("input_ids", "input_mask", "segment_ids")}
            h = encoder(batch["input_ids"], batch["input_mask"], batch["segment_ids"], training=False).numpy()
            m = batch["input_mask"].numpy()[..., None]
            cls.append(h[:, 0])
            mean.append((h * m).sum(1) / m.sum(1))
        return np.concatenate(cls), np.concatenate(mean)

    (train_cls, train_mean), (eval_cls, eval_mean) = vectors(train), vectors(evaluation)
    result = {}
    for name, x, y in (("cls", train_cls, eval_cls), ("mean_pooled", train_mean, eval_mean)):
        scaler = StandardScaler().fit(x)
        clf = LogisticRegression(max_iter=2000).fit(scaler.transform(x), train["label"])
        result[name] = float(np.mean(clf.predict(scaler.transform(y)) == evaluation["label"]))
    return result


def text_features(path: str, args, tokenizer, labels: list[str], limit: int) -> dict:
    """Features and label ids of at most `limit` sentences of `path`, a fixed random choice."""
    data = read_labelled_texts(path, [args.text_column], args.label_column)
    rows = np.random.default_rng(0).permutation(len(data))[:limit]
    features, _ = encode_texts(tokenizer, [data.texts_a[i] for i in rows], None, args.max_seq_length)
    features["label"] = np.asarray([labels.index(data.labels[i]) for i in rows])
    return features


def heldout_features(pattern: str, length: int, batches: int) -> dict:
    parts = list(make_dataset(pattern, 32, length, training=False, seed=0).take(batches))
    return {k: np.concatenate([p[k].numpy() for p in parts]) for k in ("input_ids", "input_mask", "segment_ids")}


def main(argv=None):
    args = parse_args(argv)
    check_inputs(args)
    with contextlib.redirect_stdout(sys.stderr):  # stdout holds the JSON only
        pretrained, settings = load_pretrainer(args.model_dir, args.checkpoint or None)
    length = settings.max_seq_length
    keras.utils.set_random_seed(args.seed)  # the random initialisation's weights
    random = ElectraPretrainer(pretrained.config, settings.special_token_ids, seed=args.seed)
    zeros = tf.zeros((1, length), tf.int32)
    random({"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros})
    result = {"model_dir": args.model_dir, "config": pretrained.config.encoder.__dict__ | {
        "objective": pretrained.config.objective, "generator": pretrained.config.generator}}
    if hasattr(pretrained, "discriminator_head") and pretrained.config.objective in ("electra", "electra_15"):
        result["rtd"] = rtd_diagnostics(pretrained, args.eval_data, args.train_data, length, args.batches)
    inputs = {"heldout": heldout_features(args.eval_data, length, args.batches)}
    train = evaluation = None
    if args.text_train and args.text_eval:
        tokenizer = Tokenizer(os.path.join(args.model_dir, settings.file), settings.lowercase)
        labels = sorted(set(read_labelled_texts(args.text_train, [args.text_column], args.label_column).labels))
        train = text_features(args.text_train, args, tokenizer, labels, 4000)
        evaluation = text_features(args.text_eval, args, tokenizer, labels, 100_000)
        inputs["task"] = evaluation
    for name, model in (("pretrained", pretrained), ("random", random)):
        encoder = model.discriminator
        entry = {"layer_norm_gamma": layer_norm_gammas(encoder)}
        for split, features in inputs.items():
            entry[split] = representation_statistics(encoder, features, args.batches)
        if train is not None:
            entry["frozen_features"] = frozen_features(encoder, train, evaluation)
        result[name] = entry
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
