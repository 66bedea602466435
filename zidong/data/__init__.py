"""Data: the manifest format, the built-in corpus, the tokenizer and the MindSpore pipeline."""
