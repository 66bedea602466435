"""What each generation task conditions on and what it produces (no MindSpore import: the CLI
parsers read it)."""
MODALITIES = ("text", "image", "speech")
# the modalities each task conditions on (the rest are absent from the fusion)
CONDITION = {"caption": ("image",), "asr": ("speech",), "vqa": ("text", "image"),
             "vqa_speech": ("image", "speech"),
             "t2i": ("text",), "s2i": ("speech",), "t2s": ("text",), "i2s": ("image",)}
OUTPUT = {"caption": "text", "asr": "text", "vqa": "text", "vqa_speech": "text", "t2i": "image",
          "s2i": "image", "t2s": "speech", "i2s": "speech"}
# visual question answering, the question asked in text or spoken (``zidong data vqa --speak``)
VQA_TASKS = ("vqa", "vqa_speech")
TASKS = tuple(CONDITION)
# questions ``zidong bench-tasks`` scores for VQA: a one-word answer is cheap to decode, and 64
# questions left a 6-point standard error
VQA_LIMIT = 400
# how i2s is said (TaskRunner.i2s_via), the default first
I2S_VIA = ("caption", "direct")
# speech recognition's joint CTC/attention decoding (TaskRunner.ctc_weight) for runs with a
# trained ctc head: the weight of the CTC prefix score (ESPnet's recipes use 0.3-0.5). Chosen on
# `val`: 0.3, 0.5 and 0.7 all took a ctc run's CER from 20.6 / 21.7% to 0.0% (docs/tasks.md)
ASR_CTC_WEIGHT = 0.3
