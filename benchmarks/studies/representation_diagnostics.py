"""Why a pre-trained discriminator does or does not transfer: held-out RTD diagnostics and
representation statistics of the pre-trained discriminator beside a random initialisation
of the same architecture; prints JSON.

    python benchmarks/representation_diagnostics.py --model_dir=runs/demo/model \
        --eval_data='runs/demo/tfrecords/heldout-*' --train_data='runs/demo/tfrecords/train-*' \
        [--text_train=data/sentiment/train.tsv --text_eval=data/sentiment/dev.tsv] [--batches=10]

rtd (pre-trained model, held-out data, no dropout):
  disc_auc / disc_loss / constant_disc_loss: as trainers.pretrain's evaluation;
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
import math
import os
import sys

import numpy as np
import tensorflow as tf
from keras import ops

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from models.encoder import attention_bias  # noqa: E402
from models.pretrainer import ElectraPretrainer  # noqa: E402
from pipelines.tokenization import Tokenizer  # noqa: E402
from trainers import run_directory  # noqa: E402
from trainers.export import load_pretrainer  # noqa: E402
from trainers.input_data import make_dataset  # noqa: E402
from trainers.text_features import encode_texts  # noqa: E402
from trainers.tasks.labelled_files import read_labelled_texts  # noqa: E402

MAX_TOKENS = 2000  # tokens per level for the effective rank and anisotropy


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    return p.parse_args(argv)


def auc(scores, labels) -> float:
    """ROC AUC with ties counted half (Mann-Whitney)."""
    from scipy.stats import rankdata
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    ranks = rankdata(scores)
    pos, neg = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / max(pos * neg, 1))


def binary_entropy(p: float) -> float:
    return -(p * math.log(p) + (1 - p) * math.log(1 - p)) if 0 < p < 1 else 0.0


def rtd_outputs(model, pattern: str, length: int, batches: int):
    """Per token arrays over `batches` batches: corrupted ids, labels, disc logits, weights;
    per masked position: generator entropy, targets, sampled ids, argmax, weights."""
    tokens = {k: [] for k in ("ids", "labels", "logits", "weights", "masked")}
    masked = {k: [] for k in ("entropy", "targets", "sampled", "predicted", "weights")}
    for batch in make_dataset(pattern, 32, length, training=False, seed=0).take(batches):
        out = model(batch, training=False)
        log_p = tf.nn.log_softmax(out["mlm_logits"], -1)
        masked["entropy"].append(-tf.reduce_sum(tf.exp(log_p) * log_p, -1).numpy())
        masked["targets"].append(out["mlm_targets"].numpy())
        masked["sampled"].append(out["sampled_ids"].numpy())
        masked["predicted"].append(tf.argmax(log_p, -1).numpy())
        masked["weights"].append(ops.convert_to_numpy(out["mlm_weights"]))
        tokens["ids"].append(out["disc_input_ids"].numpy())
        tokens["labels"].append(out["disc_labels"].numpy())
        tokens["logits"].append(ops.convert_to_numpy(out["disc_logits"]))
        tokens["weights"].append(ops.convert_to_numpy(out["disc_weights"]))
        position_hits = tf.reduce_sum(tf.one_hot(out["mlm_positions"], length) * out["mlm_weights"][..., None], 1)
        tokens["masked"].append(position_hits.numpy() > 0)
    flat = lambda d: {k: np.concatenate([x.reshape(-1) for x in v]) for k, v in d.items()}  # noqa: E731
    return flat(tokens), flat(masked)


def rtd_diagnostics(model, eval_pattern: str, train_pattern: str, length: int, batches: int) -> dict:
    tokens, masked = rtd_outputs(model, eval_pattern, length, batches)
    keep = tokens["weights"] > 0
    labels, logits = tokens["labels"][keep], tokens["logits"][keep]
    p = float(labels.mean())
    loss = float(np.mean(np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))))
    m = masked["weights"] > 0
    counts = np.bincount(masked["targets"][m], minlength=model.config.encoder.vocab_size).astype(np.float64)
    unigram = counts[counts > 0] / counts.sum()
    result = {
        "tokens": int(keep.sum()), "replaced_fraction": p,
        "disc_auc": auc(logits, labels), "disc_loss": loss, "constant_disc_loss": binary_entropy(p),
        "disc_mean_probability_replaced": float(np.mean(1 / (1 + np.exp(-logits[labels == 1])))),
        "disc_mean_probability_original": float(np.mean(1 / (1 + np.exp(-logits[labels == 0])))),
        "masked_auc": auc(tokens["logits"][tokens["masked"]], tokens["labels"][tokens["masked"]]),
        "generator": {
            "mlm_accuracy": float(np.mean(masked["predicted"][m] == masked["targets"][m])),
            "sampled_accuracy": float(np.mean(masked["sampled"][m] == masked["targets"][m])),
            "mean_entropy": float(np.mean(masked["entropy"][m])),
            "target_unigram_entropy": float(-np.sum(unigram * np.log(unigram))),
        },
    }
    if train_pattern:
        train, _ = rtd_outputs(model, train_pattern, length, 3 * batches)
        tw = train["weights"] > 0
        v = model.config.encoder.vocab_size
        replaced = np.bincount(train["ids"][tw], weights=train["labels"][tw], minlength=v)
        seen = np.bincount(train["ids"][tw], minlength=v)
        prior = (replaced + 1) / (seen + 2)
        result["token_prior_auc"] = auc(prior[tokens["ids"][keep]], labels)
    return result


def attention_probabilities(layer, x, bias):
    """(B, heads, T, T): softmax of `layer`'s scaled query-key products over the keys (inference)."""
    shape = (x.shape[0], x.shape[1], layer.num_heads, layer.head_size)
    q, k = (ops.reshape(dense(x), shape) for dense in (layer.query, layer.key))
    return ops.softmax(ops.einsum("btnd,bsnd->bnts", q, k) * layer.head_size ** -0.5 + bias, axis=-1)


def level_states(encoder, ids, mask, segments):
    """Hidden states of every level [(B, T, H)] and attention probabilities per layer
    [(B, heads, T, T)] of `encoder` (inference mode)."""
    x = encoder.embeddings(ids, segments, training=False)
    if encoder.projection is not None:
        x = encoder.projection(x)
    bias = attention_bias(mask)
    states, attentions = [x], []
    for group in encoder.schedule:
        layer = encoder.layers[group]
        attentions.append(attention_probabilities(layer, x, bias))
        x = layer(x, bias, training=False)
        states.append(x)
    return states, attentions


def effective_rank(matrix: np.ndarray) -> float:
    s = np.linalg.svd(matrix - matrix.mean(0), compute_uv=False)
    q = s / max(s.sum(), 1e-12)
    q = q[q > 0]
    return float(np.exp(-np.sum(q * np.log(q))))


def representation_statistics(encoder, features: dict, batches: int, seed: int = 0) -> dict:
    """Statistics per level (module doc) over the first `batches` x 32 sequences of `features`."""
    n = min(len(features["input_ids"]), 32 * batches)
    rng = np.random.default_rng(seed)
    per_level, entropy = None, []
    for start in range(0, n, 32):
        sl = slice(start, min(start + 32, n))
        ids, mask, seg = (tf.constant(features[k][sl]) for k in ("input_ids", "input_mask", "segment_ids"))
        states, attentions = level_states(encoder, ids, mask, seg)
        keep = features["input_mask"][sl] > 0
        if per_level is None:
            per_level = [{"tokens": [], "cls": []} for _ in states]
        for level, h in zip(per_level, states):
            h = h.numpy()
            level["tokens"].append(h[keep])
            level["cls"].append(h[:, 0])
        for i, a in enumerate(attentions):
            a = np.asarray(a)  # (B, heads, T, T); padding keys get ~0
            ent = -np.sum(a * np.log(np.maximum(a, 1e-12)), -1)  # (B, heads, T)
            keys = np.maximum(keep.sum(1), 2)[:, None, None]
            normalised = ent / np.log(keys)
            q = keep[:, None, :]
            if len(entropy) <= i:
                entropy.append([])
            entropy[i].append(np.stack([normalised[:, h][q[:, 0]] for h in range(a.shape[1])]))
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
            heads = np.concatenate(entropy[i - 1], axis=1).mean(1)
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
    with contextlib.redirect_stdout(sys.stderr):  # stdout holds the JSON only
        pretrained, data = load_pretrainer(args.model_dir, args.checkpoint or None)
    length = data["max_seq_length"]
    tf.random.set_seed(args.seed)
    random = ElectraPretrainer(pretrained.config, data["special_token_ids"], seed=args.seed)
    zeros = tf.zeros((1, length), tf.int32)
    random({"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros})
    result = {"model_dir": args.model_dir, "config": pretrained.config.encoder.__dict__ | {
        "objective": pretrained.config.objective, "generator": pretrained.config.generator}}
    if hasattr(pretrained, "discriminator_head") and pretrained.config.objective in ("electra", "electra_15"):
        result["rtd"] = rtd_diagnostics(pretrained, args.eval_data, args.train_data, length, args.batches)
    inputs = {"heldout": heldout_features(args.eval_data, length, args.batches)}
    train = evaluation = None
    if args.text_train and args.text_eval:
        tokenizer_data = run_directory.read_data(args.model_dir)
        tokenizer = Tokenizer(os.path.join(args.model_dir, tokenizer_data["tokenizer"]["file"]),
                              tokenizer_data["lowercase"])
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
    sys.exit(main())
