"""Loads an exported SavedModel the way a server would and shows what it computes.

    python -m trainers.serving_check --saved_model=DIR --text="..." [--text="..."]   # a task model
    python -m trainers.serving_check --saved_model=DIR --text="..." --swap=old:new   # a discriminator
    python -m trainers.serving_check --saved_model=DIR --text="prompt" [--text=...]  # a causal LM
    python -m trainers.serving_check --saved_model=DIR --replay_warmup [--outputs=FILE.npz]

DIR is a version directory (BASE/N) or a model's base directory (its highest
version). Imports only tensorflow and tensorflow_text (no project code;
TensorFlow itself loads Keras; --replay_warmup also reads the requests with
tensorflow-serving-api's protos, as TF Serving does), so it shows the
SavedModel is self-contained.

Classification models: each text with its label probabilities and predicted
label (pair tasks: --text_b, once per --text); regression: each score.
Discriminator: every token of the text with `old` replaced by `new`, with its
replaced probability. Causal LM: each prompt with its generated continuation (and,
with the same prompts again through the SavedModel's `generate` function and
--temperature 0, a check that it gives the same). --replay_warmup: every warmup request through its
signature (outputs saved to --outputs), then a request without an input and
one of the wrong dtype, which the model must refuse. A mistake (a missing path, a
version that is not a SavedModel, flags that do not fit each other or the model) is one line
on stderr and status 2, as with every entry point (--verbose: the traceback).
"""
from __future__ import annotations

import argparse
import difflib
import os
import sys

# TensorFlow's start-up noise off the screen, as every entry point does (core/cli.py,
# which this script must not import): the user's TF_CPP_MIN_LOG_LEVEL or --verbose win.
if "--verbose" not in sys.argv:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: F401,E402  (registers the tokenizer ops the graph uses)

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
PROG = "trainers.serving_check"


class UsageError(Exception):
    """A mistake in what the user gave (a path, a file, a flag): one stderr line and status 2, as
    core.cli does for the other entry points (this script imports no project code)."""


# Python's and TensorFlow's errors about a path the user gave (missing, not permitted, of the wrong kind).
PATH_ERRORS = (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError,
               tf.errors.NotFoundError, tf.errors.PermissionDeniedError)


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line with status 2."""

    def error(self, message: str):
        self.exit(2, f"{PROG}: error: {message} (see --help)\n")


def swap_word(text: str, swap: str) -> str:
    """`text` with the first word `old` replaced by `new` (swap is "old:new")."""
    old, _, new = swap.partition(":")
    if not old or not new or len(swap.split()) != 1:
        raise UsageError(f"--swap={swap!r}: expected old:new, two words joined by a colon")
    words = text.split()
    if old not in words:
        raise UsageError(f"--swap={swap!r}: {old!r} is not a word of --text={text!r}")
    words[words.index(old)] = new
    return " ".join(words)


def project_modules() -> list[str]:
    """Project modules loaded in this process, other than this script."""
    return sorted(name for name in sys.modules
                  if name.split(".")[0] in ("configs", "models", "pipelines", "trainers")
                  and name not in ("trainers", __name__, "trainers.serving_check"))


def version_directory(path: str) -> str:
    """`path` if it holds a SavedModel, else its highest numbered version (which must hold one)."""
    if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        return path
    if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
        raise UsageError(f"--saved_model {path} is a file; give a version directory or the base directory of versions")
    versions = [int(n.rstrip("/")) for n in tf.io.gfile.listdir(path) if n.rstrip("/").isdigit()] \
        if tf.io.gfile.isdir(path) else []
    if not versions:
        raise FileNotFoundError(f"{path}: neither a SavedModel nor a directory of numbered versions")
    version = os.path.join(path, str(max(versions)))
    if not tf.io.gfile.exists(os.path.join(version, "saved_model.pb")):
        raise UsageError(f"{version}: no saved_model.pb; its highest version is not a SavedModel (remove it, or "
                         "give --saved_model the version to check)")
    return version


def load(saved_model: str):
    """(the loaded SavedModel, its serving_default signature); a file TensorFlow cannot read is a UsageError."""
    try:
        model = tf.saved_model.load(saved_model)
    except (OSError, ValueError, tf.errors.OpError) as err:
        detail = " ".join(str(err).split())[:300]
        raise UsageError(f"{saved_model}: not a readable SavedModel ({type(err).__name__}: {detail})") from None
    if "serving_default" not in model.signatures:
        raise UsageError(f"{saved_model}: no serving_default signature (it has {sorted(model.signatures) or 'none'})")
    return model, model.signatures["serving_default"]


def swapped_positions(original: list[str], swapped: list[str]) -> set[int]:
    """Indices of `swapped` tokens that are not aligned with an equal token of `original`."""
    matcher = difflib.SequenceMatcher(a=original, b=swapped, autojunk=False)
    kept = {j + k for _, j, size in matcher.get_matching_blocks() for k in range(size)}
    return set(range(len(swapped))) - kept


def show_replaced(serve, text: str, swap: str) -> None:
    swapped = swap_word(text, swap)
    out = serve(text=tf.constant([text, swapped]))
    rows = []
    for row in (0, 1):
        mask = out["input_mask"][row].numpy().astype(bool)
        rows.append(([t.decode() for t in out["tokens"][row].numpy()[mask]],
                     out["replaced_probability"][row].numpy()[mask]))
    (original, _), (tokens, probs) = rows
    changed = swapped_positions(original, tokens)
    print(f"original: {' '.join(original)}")
    print(f"swapped:  {' '.join(tokens)}")
    for i, (token, prob) in enumerate(zip(tokens, probs)):
        print(f"  {token:>15s}  {prob:.3f}  {'#' * int(round(prob * 40)):<40s}{'  <- swapped in' if i in changed else ''}")
    others = [p for i, p in enumerate(probs) if i not in changed and tokens[i] not in ("[CLS]", "[SEP]")]
    print(f"mean replaced probability: swapped-in token(s) {sum(probs[i] for i in changed) / len(changed):.3f}, "
          f"other tokens {sum(others) / max(1, len(others)):.3f}")


def show_predictions(serve, inputs: dict) -> None:
    """One line per text: the score, or each label's probability and the predicted label."""
    out = {k: v.numpy() for k, v in serve(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
    for i, texts in enumerate(zip(*inputs.values())):
        shown = " | ".join(texts)
        if "score" in out:
            print(f"{out['score'][i]:8.4f}  {shown}")
            continue
        probabilities = "  ".join(f"{c.decode()} {p:.3f}" for c, p in zip(out["classes"][i], out["probabilities"][i]))
        print(f"{out['label'][i].decode():>12s}  ({probabilities})  {shown}")


def show_generations(model, serve, prompts: list[str]) -> bool:
    """Each prompt and its continuation; True if `generate` (greedy, the same length) agrees."""
    out = serve(prompt=tf.constant(prompts))
    for prompt, text, length in zip(prompts, out["text"].numpy(), out["lengths"].numpy()):
        print(f"{prompt!r} -> {text.decode('utf-8', 'replace')!r} ({length} tokens)")
    width = int(out["tokens"].shape[1])
    again = model.generate(tf.constant(prompts), width, 0.0, 0, 1.0, 0)
    same = bool(np.array_equal(again["tokens"].numpy(), out["tokens"].numpy()))
    print(f"generate(max_new_tokens={width}, temperature=0) {'gives the same tokens' if same else 'DIFFERS'}")
    return same


def read_warmup_requests(saved_model: str) -> list:
    """The PredictRequests of the SavedModel's warmup file."""
    from tensorflow_serving.apis import prediction_log_pb2  # protos only, as TF Serving reads them
    path = os.path.join(saved_model, WARMUP_FILE)
    if not tf.io.gfile.exists(path):
        raise UsageError(f"{path} not found: --replay_warmup needs the warmup requests trainers.export writes")
    requests = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        requests.append(prediction_log_pb2.PredictionLog.FromString(record).predict_log.request)
    return requests


def _array(tensor) -> np.ndarray:
    """The tensor's values; strings as fixed-width bytes (np.load reads them without pickle)."""
    value = tensor.numpy()
    return value.astype(np.bytes_) if value.dtype == object else value


def replay_warmup(model, saved_model: str, outputs_path: str) -> bool:
    """Runs every warmup request through its signature (outputs to `outputs_path` as
    request<i>/<name> arrays), then checks that a request missing an input and one of the wrong
    dtype are refused. True if all went as expected."""
    requests = read_warmup_requests(saved_model)
    saved, calls = {}, []
    for i, request in enumerate(requests):
        serve = model.signatures[request.model_spec.signature_name or "serving_default"]
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        out = serve(**inputs)
        calls.append((serve, inputs))
        saved.update({f"request{i}/{k}": _array(v) for k, v in out.items()})
        saved.update({f"request{i}/input/{k}": _array(v) for k, v in inputs.items()})
        print(f"warmup request {i}: {request.model_spec.signature_name} "
              f"{', '.join(f'{k} {tuple(v.shape)}' for k, v in inputs.items())} -> "
              f"{', '.join(f'{k} {tuple(v.shape)} {v.dtype.name}' for k, v in sorted(out.items()))}")
    if outputs_path:
        np.savez(outputs_path, **saved)
    if not calls:
        print("NO warmup requests")
        return False
    serve, inputs = calls[0]
    first, ok = sorted(inputs)[0], True
    for what, bad in ((f"without {first!r}", {k: v for k, v in inputs.items() if k != first}),
                      (f"with int32 {first!r}", {**inputs, first: tf.zeros(inputs[first].shape, tf.int32)})):
        try:
            serve(**bad)
        except (TypeError, ValueError, tf.errors.InvalidArgumentError) as err:
            print(f"refused a request {what}: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
        else:
            print(f"ACCEPTED a request {what}")
            ok = False
    return ok


def parse_args(argv=None) -> argparse.Namespace:
    """The flags, checked against each other and --outputs against the file system (before loading)."""
    p = ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--saved_model", required=True, help="a version directory, or the base directory of versions")
    p.add_argument("--text", action="append", default=[], help="a text to run through the model (repeatable)")
    p.add_argument("--text_b", action="append", default=[], help="pair tasks: the second text of each --text")
    p.add_argument("--swap", default="", help="discriminator: old:new, the word to replace and its replacement")
    p.add_argument("--replay_warmup", action="store_true", help="run the warmup requests and malformed ones")
    p.add_argument("--outputs", default="", help="with --replay_warmup: save the outputs to this new .npz file")
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's logs and tracebacks")
    args = p.parse_args(argv)
    if args.outputs and not args.replay_warmup:
        p.error("--outputs needs --replay_warmup")
    if args.swap and len(args.text) != 1:
        p.error(f"--swap needs exactly one --text, got {len(args.text)}")
    if args.text_b and len(args.text_b) != len(args.text):
        p.error(f"--text_b: give one for each --text (got {len(args.text)} --text, {len(args.text_b)} --text_b)")
    if args.swap:
        swap_word(args.text[0], args.swap)
    if args.outputs:
        written = args.outputs if args.outputs.endswith(".npz") else args.outputs + ".npz"  # as np.savez names it
        folder = os.path.dirname(written) or "."
        if tf.io.gfile.exists(written):
            raise UsageError(f"--outputs {written} exists; give a new file")
        if not tf.io.gfile.isdir(folder):
            raise UsageError(f"--outputs {written}: {folder} is not a directory")
    return args


def check(args: argparse.Namespace) -> int:
    """Loads the SavedModel and runs what the flags ask for; 0 if all went as expected, else 1."""
    saved_model = version_directory(args.saved_model)
    model, serve = load(saved_model)
    forbidden = project_modules()
    print(f"loaded {saved_model} with tensorflow and tensorflow_text, no project code"
          f"{'' if not forbidden else ' (BUT ALSO ' + ', '.join(forbidden) + ')'}")
    ok = not forbidden
    if args.replay_warmup:
        ok &= replay_warmup(model, saved_model, args.outputs)
    names = sorted(serve.structured_input_signature[1])
    discriminator = "replaced_probability" in serve.structured_outputs
    if names == ["prompt"]:
        if args.swap or args.text_b:
            raise UsageError(f"{saved_model} is a causal LM: give prompts with --text, without --swap or --text_b")
        if args.text:
            ok &= show_generations(model, serve, args.text)
    elif args.swap:
        if names != ["text"] or not discriminator:
            raise UsageError(f"--swap needs a discriminator SavedModel; {saved_model} takes {', '.join(names)} "
                             "and gives no replaced_probability")
        show_replaced(serve, args.text[0], args.swap)
    elif args.text:
        if discriminator:
            raise UsageError(f"{saved_model} is a discriminator: give one --text and --swap=old:new")
        if names == ["text"] and not args.text_b:
            show_predictions(serve, {"text": args.text})
        elif names == ["text_a", "text_b"] and args.text_b:
            show_predictions(serve, {"text_a": args.text, "text_b": args.text_b})
        else:
            raise UsageError(f"{saved_model} takes {', '.join(names)}; --text serves text models (pair models: "
                             "one --text_b for each --text)")
    return 0 if ok else 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return check(parse_args(argv))
    except (UsageError, *PATH_ERRORS) as err:
        if "--verbose" in argv:
            raise
        print(f"{PROG}: error: {' '.join(str(getattr(err, 'message', '') or err).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
