"""The tokenizer files of a Hugging Face ELECTRA or BERT directory (BERT's WordPiece), read into and
written from ConvertedTokenizer.

Read: the vocabulary from vocab.txt, else from tokenizer.json's WordPiece model (what
transformers 5 saves); settings from tokenizer_config.json (do_lower_case, default True as
ElectraTokenizer's; model_max_length), else tokenizer.json's BertNormalizer. What this project's
tokenizer (pipelines/tokenization.py: BERT's FullTokenizer) cannot do is an error: another
tokenizer class or model, special tokens other than [PAD] [UNK] [CLS] [SEP] [MASK], accents
stripped without lower-casing (or kept with it), CJK characters not split, no basic tokenization.
Written: vocab.txt, tokenizer_config.json (ElectraTokenizer or BertTokenizer) and special_tokens_map.json.
"""
from __future__ import annotations

import os

import tensorflow as tf

from trainers.conversion.converted_model import ConvertedTokenizer
from trainers.conversion.files import read_json, read_vocab, write_json, write_vocab
from trainers.conversion.errors import ConversionError

CONFIG, FAST, VOCAB, SPECIAL_MAP = "tokenizer_config.json", "tokenizer.json", "vocab.txt", "special_tokens_map.json"
CLASSES = ("ElectraTokenizer", "ElectraTokenizerFast", "BertTokenizer", "BertTokenizerFast")
SPECIAL_TOKENS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                  "mask_token": "[MASK]"}


def _fast_vocab(path: str, fast: dict) -> tuple[str, ...]:
    """tokenizer.json's WordPiece vocabulary with its added tokens, by id."""
    model = fast.get("model") or {}
    if model.get("type") != "WordPiece":
        raise ConversionError(f"{path}: model type {model.get('type')!r} cannot be represented: this "
                              "project's tokenizer is BERT's WordPiece")
    ids = dict(model.get("vocab") or {})
    for token in fast.get("added_tokens") or []:
        ids.setdefault(token["content"], token["id"])
    by_id = sorted(ids.items(), key=lambda item: item[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ConversionError(f"{path}: the vocabulary's ids are not 0..{len(by_id) - 1}")
    return tuple(token for token, _ in by_id)


def _check_settings(path: str, config: dict, lowercase: bool) -> None:
    """Raises ConversionError for a setting of tokenizer_config.json (`path`) this project cannot represent."""
    kind = config.get("tokenizer_class")
    if kind not in (None, *CLASSES):
        raise ConversionError(f"{path}: tokenizer_class {kind!r} cannot be represented: this project's "
                              f"tokenizer is BERT's WordPiece ({', '.join(CLASSES)})")
    for key, token in SPECIAL_TOKENS.items():
        value = config.get(key)
        value = value.get("content") if isinstance(value, dict) else value
        if value not in (None, token):
            raise ConversionError(f"{path}: {key} {value!r} cannot be represented: this project's special "
                                  f"tokens are {', '.join(SPECIAL_TOKENS.values())}")
    strip = config.get("strip_accents")
    if strip is not None and bool(strip) != lowercase:
        raise ConversionError(f"{path}: strip_accents={strip} with do_lower_case={lowercase} cannot be "
                              "represented: this project strips accents exactly when it lower-cases")
    for key in ("tokenize_chinese_chars", "do_basic_tokenize"):
        if config.get(key, True) is not True:
            raise ConversionError(f"{path}: {key}={config[key]} cannot be represented: this project "
                                  "always splits off punctuation and CJK characters (BERT's basic tokenizer)")
    if config.get("never_split"):
        raise ConversionError(f"{path}: never_split cannot be represented")


def has_files(directory: str) -> bool:
    """Whether `directory` holds tokenizer files."""
    return any(tf.io.gfile.exists(os.path.join(directory, name)) for name in (CONFIG, FAST, VOCAB))


def read(directory: str, vocab: str | None, lowercase: bool | None,
         max_positions: int) -> tuple[ConvertedTokenizer, str]:
    """(settings, the file the vocabulary came from) of the tokenizer in `directory`; `vocab` and
    `lowercase` (the user's flags) win over the files."""
    config_path, fast_path = os.path.join(directory, CONFIG), os.path.join(directory, FAST)
    config, fast = read_json(config_path), read_json(fast_path)
    normalizer = fast.get("normalizer") or {}
    if lowercase is None:
        lowercase = config.get("do_lower_case", normalizer.get("lowercase", True))
    _check_settings(config_path, config, lowercase)
    if vocab:
        tokens, source = read_vocab(vocab), vocab
    elif tf.io.gfile.exists(os.path.join(directory, VOCAB)):
        source = os.path.join(directory, VOCAB)
        tokens = read_vocab(source)
    elif fast:
        tokens, source = _fast_vocab(fast_path, fast), fast_path
    else:
        raise ConversionError(f"{directory}: no {VOCAB} or {FAST}; give the vocabulary with --vocab")
    length = config.get("model_max_length")
    length = length if isinstance(length, int) and 0 < length <= max_positions else max_positions
    return ConvertedTokenizer(tokens, bool(lowercase), length), source


def write(directory: str, tokenizer: ConvertedTokenizer, tokenizer_class: str = "ElectraTokenizer") -> None:
    """Writes vocab.txt, tokenizer_config.json (of `tokenizer_class`) and special_tokens_map.json
    into `directory`."""
    write_vocab(os.path.join(directory, VOCAB), tokenizer.vocab)
    write_json(os.path.join(directory, CONFIG), {
        "tokenizer_class": tokenizer_class, "do_lower_case": tokenizer.lowercase, "strip_accents": None,
        "tokenize_chinese_chars": True, "model_max_length": tokenizer.max_seq_length, **SPECIAL_TOKENS})
    write_json(os.path.join(directory, SPECIAL_MAP), SPECIAL_TOKENS)
