"""Conversion between this project's run directories, the ELECTRA release's TF1 checkpoints and
Hugging Face ELECTRA and BERT directories (`python -m trainers.convert`).

Every format reads into and writes from a `ConvertedModel` (converted_model.py): a built
ElectraPretrainer, its config and its tokenizer settings. The pretrainer's weights are named
as the ELECTRA or BERT release names them (model_weights.py); tf1_checkpoint.py, huggingface.py and
run_format.py map those names to their files.
"""
