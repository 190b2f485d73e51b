"""Zero-, one- and few-shot evaluation of a causal LM, without fine-tuning (the GPT-3 paper, sec. 2):

    python -m trainers.fewshot --model_dir=RUN --train_file=FILE --eval_file=FILE --text_columns=COL[,COL]
        --label_column=COL [--shots=0,1,4,8] [--draws=3] [--max_examples=N] [--template=default|sentiment|pair]
        [--override=template.FIELD=VALUE] [--verbalizer=LABEL=WORD ...] [--heldout_data=GLOB] [--output=FILE.json]

Each eval example is put after a prompt of k demonstrations drawn at random
from the training file (configs.fewshot_config: a description, examples and
their answers) and classified by the class whose answer text (its
verbaliser) the model finds most likely: the sum of its tokens' log-probabilities
after the prompt, tokenized apart from the prompt. Accuracy is reported per k
as the median over --draws draws of demonstrations (one for k = 0), beside
the majority class of the training file. With --heldout_data (the run's
held-out blocks of build_pretraining_data --objective=causal_lm), also
LAMBADA-style last-word accuracy ("The LAMBADA dataset", arXiv:1606.06031):
in each held-out block, the last word that ends a sentence after at least
--min_words words; whether greedy decoding after the text before it gives
exactly that word.
A prompt longer than the model's positions loses its oldest tokens.
"""
from __future__ import annotations

import collections
import re
import sys

import numpy as np
import sentencepiece
import tensorflow as tf

from configs import apply_overrides
from configs.fewshot_config import TEMPLATES, PromptTemplate
from core import cli, run_files
from core.cli import UserError
from pipelines.tokenization import Tokenizer
from trainers.input_data import BLOCK_FEATURES, make_dataset
from trainers.model_loading import load_causal_lm
from trainers.tasks.labelled_files import read_labelled_texts


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model_dir", required=True, help="a causal LM run directory")
    p.add_argument("--train_file", required=True, help="labelled file the demonstrations are drawn from")
    p.add_argument("--eval_file", required=True, help="labelled file to classify")
    p.add_argument("--text_columns", required=True, help="one or two comma-separated column names")
    p.add_argument("--label_column", required=True)
    p.add_argument("--shots", default="0,1,4,8", help="comma-separated numbers of demonstrations")
    p.add_argument("--draws", type=int, default=3, help="draws of demonstrations per k > 0 (median reported)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max_examples", type=int, default=0,
                   help="classify N eval examples drawn by --seed (0: all), in file order")
    p.add_argument("--template", default="default", choices=sorted(TEMPLATES))
    p.add_argument("--override", action="append", default=[], metavar="template.FIELD=VALUE",
                   help="change a field of the template (\\n is a newline), e.g. template.example='Q: {text}\\nA:'")
    p.add_argument("--verbalizer", action="append", default=[], metavar="LABEL=WORD",
                   help="the answer text of a label (default: the label itself)")
    p.add_argument("--heldout_data", default="", help="glob of held-out blocks for last-word accuracy")
    p.add_argument("--min_words", type=int, default=8)
    p.add_argument("--max_passages", type=int, default=500)
    p.add_argument("--output", default="", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    try:
        args.shots = sorted({int(k) for k in args.shots.split(",")})
    except ValueError:
        p.error(f"--shots must be comma-separated integers, got {args.shots!r}")
    if args.shots[0] < 0 or args.draws < 1 or args.max_examples < 0:
        p.error("--shots and --max_examples must be >= 0, --draws >= 1")
    args.text_columns = [c for c in args.text_columns.split(",") if c]
    if not 1 <= len(args.text_columns) <= 2:
        p.error("--text_columns takes one or two column names")
    return args


def resolve_template(name: str, overrides: list[str]) -> PromptTemplate:
    """The named template with `template.FIELD=VALUE` overrides (a literal \\n becomes a newline)."""
    fields = []
    for item in overrides:
        key, _, value = item.partition("=")
        if not key.startswith("template."):
            raise UserError(f"--override {item!r}: only template.FIELD=VALUE is accepted")
        fields.append(f"{key[len('template.'):]}={value.replace(chr(92) + 'n', chr(10))}")
    try:
        return apply_overrides(TEMPLATES[name], fields)
    except ValueError as err:
        raise UserError(f"--override: {err}") from None


class Scorer:
    """Log-likelihoods of continuations under a causal LM, in length-sorted batches."""

    def __init__(self, model, batch_size: int = 32):
        self.model, self.batch_size = model, batch_size
        self.max_length = model.config.max_position_embeddings

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)], reduce_retracing=True)
    def _token_scores(self, ids):
        """ids (B, L) -> (log p(ids[:, t + 1] | ids[:, :t + 1]), whether it is the argmax) (B, L - 1)."""
        log_probs = tf.nn.log_softmax(self.model(ids[:, :-1], training=False), axis=-1)
        targets = ids[:, 1:]
        picked = tf.gather(log_probs, targets, batch_dims=2)
        return picked, tf.equal(tf.argmax(log_probs, axis=-1, output_type=tf.int32), targets)

    def score(self, contexts: list[list[int]], continuations: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """(sum of the continuation's log-probabilities after its context, whether greedy decoding
        gives every continuation token) (N,); contexts lose their oldest tokens to fit."""
        rows = []
        for context, continuation in zip(contexts, continuations):
            ids = (context + continuation)[-self.max_length:]
            rows.append((ids, len(ids) - len(continuation)))
        sums, greedy = np.zeros(len(rows)), np.zeros(len(rows), bool)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            width = max(len(rows[i][0]) for i in chunk)
            padded = np.zeros((len(chunk), width), np.int32)
            for r, i in enumerate(chunk):
                padded[r, :len(rows[i][0])] = rows[i][0]
            picked, hits = (t.numpy() for t in self._token_scores(tf.constant(padded)))
            for r, i in enumerate(chunk):
                ids, first = rows[i]
                sums[i] = picked[r, first - 1:len(ids) - 1].sum()
                greedy[i] = hits[r, first - 1:len(ids) - 1].all()
        return sums, greedy


def render(template: PromptTemplate, texts: tuple, label: str | None = None) -> str:
    """One example (with its answer if `label`)."""
    fields = {"text": texts[0], "text_b": texts[1] if len(texts) > 1 else ""}
    text = template.example.format(**fields)
    return text + template.answer.format(label=label, **fields) if label is not None else text


def fewshot_accuracy(scorer, tokenize, eos: int, template, train, evaluation, classes: dict, k: int,
                     draw: int, seed: int) -> float:
    """Accuracy on `evaluation` with k demonstrations per example, drawn from `train` by (seed, draw, example).
    train, evaluation: lists of (texts, label); classes: {label: verbaliser}."""
    contexts = []
    for i, (texts, _) in enumerate(evaluation):
        rng = np.random.default_rng([seed, draw, i])
        shown = [train[j] for j in rng.choice(len(train), size=min(k, len(train)), replace=False)] if k else []
        parts = ([template.description] if template.description else [])
        parts += [render(template, t, classes[label]) for t, label in shown] + [render(template, texts)]
        contexts.append(template.separator.join(parts))
    context_ids = [[eos] + ids for ids in tokenize(contexts)]
    labels = list(classes)
    answer_ids = tokenize([template.answer.format(label=classes[label], text="", text_b="") for label in labels])
    scores, _ = scorer.score([c for c in context_ids for _ in labels], [a for _ in context_ids for a in answer_ids])
    predicted = np.argmax(scores.reshape(len(evaluation), len(labels)), axis=1)
    return float(np.mean([labels[p] == label for p, (_, label) in zip(predicted, evaluation)]))


SENTENCE_END = re.compile(r"\s([A-Za-z]+)[.!?][\"'\u201d\u2019)]*(?=\s|$)")


def heldout_passages(pattern: str, model_dir: str, eos: int, min_words: int, limit: int) -> list[tuple[str, str]]:
    """(context, " " + word) pairs from the held-out blocks of `pattern`: in each block's text
    between <|endoftext|> tokens, the last word that ends a sentence, after at least min_words words."""
    manifest = run_files.find_manifest(pattern)
    decoder = sentencepiece.SentencePieceProcessor(model_file=f"{model_dir}/{run_files.SENTENCEPIECE_MODEL}")
    passages = []
    for batch in make_dataset(pattern, 256, manifest.max_seq_length + 1, training=False, seed=0,
                              features=BLOCK_FEATURES):
        for block in batch["input_ids"].numpy().tolist():
            edges = [-1] + [i for i, token in enumerate(block) if token == eos] + [len(block)]
            for a, b in zip(edges, edges[1:]):
                text = decoder.decode(block[a + 1:b])
                ends = list(SENTENCE_END.finditer(text))
                if ends and len(text[:ends[-1].start()].split()) >= min_words:
                    passages.append((text[:ends[-1].start()], " " + ends[-1].group(1)))
                if len(passages) >= limit:
                    return passages
    return passages


def main(argv=None) -> int:
    args = parse_args(argv)
    template = resolve_template(args.template, args.override)
    model, tokenizer = load_causal_lm(args.model_dir)
    if "eos" not in tokenizer.special_token_ids:
        raise UserError(f"{args.model_dir} has no <|endoftext|> token; few-shot evaluation needs a causal LM run")
    eos = tokenizer.special_token_ids["eos"]
    text_tokenizer = Tokenizer(f"{args.model_dir}/{tokenizer.file}", tokenizer.lowercase)
    read = [read_labelled_texts(path, args.text_columns, args.label_column)
            for path in (args.train_file, args.eval_file)]
    train, evaluation = ([(t, str(label)) for t, label in zip(zip(*filter(None, (d.texts_a, d.texts_b))), d.labels)]
                         for d in read)
    if 0 < args.max_examples < len(evaluation):
        chosen = np.random.default_rng([args.seed, len(evaluation)]).choice(len(evaluation), args.max_examples,
                                                                            replace=False)
        evaluation = [evaluation[i] for i in sorted(chosen)]
    counts = collections.Counter(label for _, label in train)
    classes = {label: label for label in sorted(counts)}
    for item in args.verbalizer:
        label, _, word = item.partition("=")
        if label not in classes or not word:
            raise UserError(f"--verbalizer {item!r}: expected LABEL=WORD with LABEL one of {sorted(classes)}")
        classes[label] = word
    majority = counts.most_common(1)[0][0]
    majority_accuracy = float(np.mean([label == majority for _, label in evaluation]))
    scorer = Scorer(model)
    results = {"majority_class": majority, "majority_accuracy": majority_accuracy, "examples": len(evaluation),
               "template": template.__dict__, "verbalizers": classes, "shots": {}}
    print(f"{len(evaluation)} examples; classes {classes}; majority class {majority!r}: "
          f"accuracy {majority_accuracy:.4f}")
    print("k  accuracy (median)  draws")
    for k in args.shots:
        draws = [fewshot_accuracy(scorer, text_tokenizer.tokenize_lines, eos, template, train, evaluation, classes,
                                  k, draw, args.seed) for draw in range(args.draws if k else 1)]
        results["shots"][str(k)] = {"accuracy": float(np.median(draws)), "draws": draws}
        print(f"{k:<2d} {np.median(draws):.4f}            {' '.join(f'{d:.4f}' for d in draws)}")
    if args.heldout_data:
        passages = heldout_passages(args.heldout_data, args.model_dir, eos, args.min_words, args.max_passages)
        if not passages:
            raise UserError(f"no whole document of >= {args.min_words} words in {args.heldout_data}")
        contexts = [[eos] + ids for ids in text_tokenizer.tokenize_lines([c for c, _ in passages])]
        _, greedy = scorer.score(contexts, text_tokenizer.tokenize_lines([w for _, w in passages]))
        results["last_word"] = {"accuracy": float(greedy.mean()), "passages": len(passages)}
        print(f"last-word accuracy (LAMBADA-style, greedy): {greedy.mean():.4f} over {len(passages)} held-out passages")
    if args.output:
        run_files.write_json(args.output, results)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
