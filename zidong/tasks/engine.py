"""One loaded run serving every task: the encoders and the fusion make a memory from whichever
modalities a task conditions on, and a decoder generates from it.

    caption  image  -> text    (text decoder, beam search, in the language asked for)
    asr      speech -> text    (text decoder, in the utterance's language)
    vqa      image + question (text) -> answer (text decoder)
    vqa_speech  image + spoken question -> answer (text decoder)
    t2i/s2i  text / speech -> VQ codes -> pixels (image decoder + frozen VQ tokenizer)
    t2s/i2s  text / image  -> log-mel -> waveform (speech decoder + vocoder)

What the tasks do around the model is ``zidong.tasks.runner.TaskRunner`` (shared with the MINDIR
runtime); this class supplies the checkpoint's Cells.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import Tensor

from zidong.data.manifest import Sample, read_manifest
from zidong.eval.load import load_ctc, load_run
from zidong.models.vocoder import create_vocoder
from zidong.tasks.runner import TaskRunner


class TaskEngine(TaskRunner):
    def __init__(self, run, batch_size: int = 16, vocoder: str = "griffin_lim"):
        self.model, self.cfg, self.tokenizer, self.meta = load_run(run)
        self.batch_size = batch_size
        self.vocoder = create_vocoder(vocoder, self.cfg.model.speech)
        model = self.model

        @ms.jit
        def fuse(text_ids, text_mask, image, mel, mel_mask, presence):
            return model(text_ids, text_mask, image, mel, mel_mask, presence)

        @ms.jit
        def pixels(codes):
            return model.image_tokenizer.decode(codes)

        self._fuse_graph, self._pixels_graph = fuse, pixels
        try:
            self._ctc_head = load_ctc(run, self.cfg)
        except ValueError:
            self._ctc_head = None   # ASR is then the text decoder's alone
        from zidong.export.graphs import CTCLogProbs
        ctc_net = CTCLogProbs(model, self._ctc_head) if self._ctc_head is not None else None

        @ms.jit
        def ctc(mel, mel_mask):
            return ctc_net(mel, mel_mask)

        self._ctc_graph = ctc

    def _has_ctc(self) -> bool:
        return self._ctc_head is not None

    def _ctc(self, mel, mel_mask):
        return self._ctc_graph(mel, mel_mask)

    def _fuse(self, cols, presence):
        return self._fuse_graph(*cols, presence)[:2]

    def _decoder(self, kind: str):
        return self.model.text_decoder if kind == "text" else self.model.image_decoder

    def _pixels(self, codes):
        return self._pixels_graph(Tensor(codes, ms.int32)).asnumpy()

    def _speech_decoder(self):
        return self.model.speech_decoder

    def _vocode(self, logmel):
        return self.vocoder(logmel)


def manifest_samples(manifest) -> list[Sample]:
    """The manifest's samples, indexable by a batch's ``index`` column."""
    return read_manifest(manifest)[0]
