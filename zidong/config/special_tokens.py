"""Ids of the text tokenizer's special tokens: shared by the tokenizer (data) and the text decoder
(models), so they live beside the config that both layers may import."""
PAD_ID = 0
UNK_ID = 1
BOS_ID = 2
EOS_ID = 3
MASK_ID = 4
NUM_SPECIAL = 5
