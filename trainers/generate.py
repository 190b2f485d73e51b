"""Generates text from a causal LM run: `python -m trainers.generate --model_dir=RUN --prompt=TEXT
[--prompt=TEXT ...] [--max_new_tokens=64] [--temperature=1.0] [--top_k=40] [--top_p=1.0] [--seed=0]
[--num_samples=1]`.

--temperature=0 is greedy decoding; otherwise tokens are sampled from the
top_k most likely (0: all) within the nucleus of probability top_p (1: all).
A continuation ends at <|endoftext|> or after max_new_tokens. The same
(--seed, prompts) give the same text. The run is a directory of
trainers.pretrain with a causal_lm preset or of trainers.convert (GPT-2);
generation runs in the graph that trainers.export saves
(trainers/serving/text_generator.py), with a key/value cache.
"""
from __future__ import annotations

import sys

import tensorflow as tf

from core import cli, run_files
from core.cli import UserError
from trainers.model_loading import load_causal_lm
from trainers.serving.text_generator import TextGenerator


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model_dir", required=True, help="a causal LM run directory")
    p.add_argument("--prompt", action="append", required=True, help="text to continue (repeatable)")
    p.add_argument("--max_new_tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=1.0, help="0: greedy")
    p.add_argument("--top_k", type=int, default=40, help="sample among the k most likely tokens (0: all)")
    p.add_argument("--top_p", type=float, default=1.0, help="nucleus sampling: the smallest set of this probability")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num_samples", type=int, default=1, help="continuations per prompt")
    args = p.parse_args(argv)
    for name, ok in (("max_new_tokens", args.max_new_tokens >= 1), ("temperature", args.temperature >= 0),
                     ("top_k", args.top_k >= 0), ("top_p", 0 < args.top_p <= 1), ("num_samples", args.num_samples >= 1),
                     ("seed", 0 <= args.seed < 2**31)):
        if not ok:
            p.error(f"--{name}={getattr(args, name)} is out of range")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    model, tokenizer = load_causal_lm(args.model_dir)
    limit = model.config.max_position_embeddings - 1
    if args.max_new_tokens > limit:
        raise UserError(f"--max_new_tokens={args.max_new_tokens} exceeds what the model's "
                        f"{limit + 1} positions allow with a prompt ({limit})")
    generator = TextGenerator(model, f"{args.model_dir}/{run_files.SENTENCEPIECE_MODEL}", tokenizer.lowercase,
                              tokenizer.special_token_ids["eos"])
    prompts = [p for p in args.prompt for _ in range(args.num_samples)]
    out = generator.generate(tf.constant(prompts), args.max_new_tokens, args.temperature, args.top_k, args.top_p,
                             args.seed)
    for prompt, text, length, log_probability in zip(prompts, out["text"].numpy(), out["lengths"].numpy(),
                                                     out["log_probability"].numpy()):
        ended = "<|endoftext|>" if length < args.max_new_tokens else "..."
        print(f"=== {prompt!r} ({length} tokens, log-probability {log_probability:.2f})\n"
              f"{prompt}{text.decode('utf-8', 'replace')} {ended}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
