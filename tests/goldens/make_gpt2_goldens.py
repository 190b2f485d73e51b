"""Writes the GPT-2 golden files (tests/goldens/huggingface/gpt2/) that tests/trainers/test_convert_gpt2.py reads.

Run once, in a virtualenv of its own with transformers, torch and tokenizers (never needed by the tests):

    python tests/goldens/make_gpt2_goldens.py --text=data/botchan.txt

A byte-level BPE of 999 merges learned by `tokenizers` from the text, with <|endoftext|> last
(id 999, as GPT-2's 50256), in GPT-2's files vocab.json and merges.txt; a randomly initialised
GPT2LMHeadModel (2 layers, width 32, 4 heads, 64 positions) saved by save_pretrained; and
expected.npz: for each of TEXTS, transformers' GPT2Tokenizer ids (ids_i) and the model's logits (logits_i).
"""
import argparse
import json
import os

import numpy as np
import tokenizers
import torch
import transformers

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "huggingface", "gpt2")
# Letters, digits, punctuation, a contraction, runs of spaces, a newline, accents, CJK and an emoji.
TEXTS = ["Hello world, it's 1234 naïve café — 東京 😀!", 'I said: "No."\nThe end.', "a  b",
         "don't  stop   now", "The master of the school was a badger."]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--text", required=True)
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train([args.text], vocab_size=999, min_frequency=2, special_tokens=[])
    bpe.save_model(OUT)
    with open(os.path.join(OUT, "vocab.json")) as f:
        vocab = json.load(f)
    vocab["<|endoftext|>"] = len(vocab)
    with open(os.path.join(OUT, "vocab.json"), "w") as f:
        json.dump(vocab, f, ensure_ascii=False)
    tokenizer = transformers.GPT2Tokenizer(os.path.join(OUT, "vocab.json"), os.path.join(OUT, "merges.txt"))
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=len(vocab), n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                     bos_token_id=len(vocab) - 1, eos_token_id=len(vocab) - 1)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # visible biases and LayerNorm parameters, so a swapped weight shows
        for name, parameter in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                parameter.add_(0.1 * torch.randn_like(parameter))
    model.save_pretrained(OUT)
    expected = {}
    for i, text in enumerate(TEXTS):
        ids = tokenizer.encode(text)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].numpy()
        expected[f"ids_{i}"], expected[f"logits_{i}"] = np.array(ids, np.int32), logits.astype(np.float32)
    expected["texts"] = np.array(TEXTS)
    np.savez(os.path.join(OUT, "expected.npz"), **expected)
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__,
                   "tokenizers": tokenizers.__version__}, f, indent=2)


if __name__ == "__main__":
    main()
