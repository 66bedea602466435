"""Ids of the text tokenizer's special tokens: shared by the tokenizer (data) and the text decoder
(models), so they live beside the config that both layers may import."""
PAD_ID = 0
UNK_ID = 1
BOS_ID = 2
EOS_ID = 3
MASK_ID = 4
# The text decoder starts a sentence with its language's token, so that one decoder can be asked
# for an English or a Chinese caption of the same image (as mBART / Whisper do). Tokenizers
# trained before these existed start every sentence with BOS_ID (Tokenizer.start_id).
LANG_TOKENS = {"en": "<en>", "zh": "<zh>"}
LANG_IDS = {"en": 5, "zh": 6}
NUM_SPECIAL = 7

# Language index of a sample (the batch's ``lang_id``): what the speech decoder is told to speak.
LANG_INDEX = {"en": 0, "zh": 1}
NUM_LANGS = 3  # en, zh and any other language
