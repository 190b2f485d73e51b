"""A causal LM exported and served: prompt strings in, generated text out, in a process without project code."""
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from models.generation import generate
from pipelines import tokenization
from trainers import export
from trainers.model_loading import load_causal_lm

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_export_serves_greedy_continuations_equal_to_the_model_s(causal_run, tmp_path):
    target = export.export(causal_run, str(tmp_path / "served"), max_new_tokens=6)
    outputs = str(tmp_path / "outputs.npz")
    result = subprocess.run(
        [sys.executable, "-m", "trainers.serving_check", f"--saved_model={target}", "--text=the cat sat",
         "--text=", "--replay_warmup", f"--outputs={outputs}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "no project code" in result.stdout and "gives the same tokens" in result.stdout
    assert "'the cat sat' -> " in result.stdout and "refused a request with int32 'prompt'" in result.stdout

    # The warmup batch (empty, non-ASCII, overlong prompts) against the model in this process, prompt by prompt.
    saved = np.load(outputs)
    model, settings = load_causal_lm(causal_run)
    eos = settings.special_token_ids["eos"]
    tokenizer = tokenization.Tokenizer(os.path.join(causal_run, "spm.model"), lowercase=False)
    prompts = [t.decode() for t in saved["request1/input/prompt"]]
    for i, ids in enumerate(tokenizer.tokenize_lines(prompts)):
        ids = ([eos] + ids)[-(model.config.max_position_embeddings - 6):]
        tokens, _, lengths = generate(model, np.array([ids], "int32"), np.ones((1, len(ids)), "int32"), 6, eos,
                                      0.0, 0, 1.0, np.zeros(1, "uint32"))
        np.testing.assert_array_equal(saved["request1/tokens"][i], np.asarray(tokens)[0])
        text = tokenizer.text_tokenizer.detokenize(tf.ragged.constant([np.asarray(tokens)[0, :int(lengths[0])]]))
        assert saved["request1/text"][i] == text.numpy()[0]
