"""The bottom of the import graph: what every stage shares.

cli.py          UserError and the command-line runner of every entry point
vocabulary.py   vocab.txt and SentencePiece .model files: pieces, special-token ids
"""
