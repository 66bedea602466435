"""One pretraining step's forward: all three levels of objectives from one pass of each encoder
(two with ``train.clean_contrastive``: masked inputs for the token level, clean ones for the
contrastive embeddings) and one pass of the fusion, so the whole step is a single static graph.

Batch layout (fixed counts, set by the data pipeline): with h = hide_per_batch and n =
match_negatives, samples [0, h) hide their text, [h, 2h) their image, [2h, 3h) their speech
(modality level: each decoder runs on its own slice; a disabled decoder's slice is left out and
the next ones move up), the n after them get one modality swapped for a hard negative
(matching); every sample feeds the token-level and contrastive objectives.
With ``train.fusion_batch`` F < B, only the first F rows take the masked pass, the fusion and the
token- and modality-level heads; all B rows feed the contrastive objective's clean pass.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from zidong.config.schema import Config
from zidong.objectives.contrastive import Contrastive
from zidong.objectives.image_generation import ImageGeneration
from zidong.objectives.masked_image import MaskedImageModelling
from zidong.objectives.masked_speech import MaskedSpeechModelling
from zidong.objectives.masked_text import MaskedTextModelling
from zidong.objectives.matching import Matching
from zidong.objectives.speech_ctc import SpeechCTC
from zidong.objectives.speech_generation import SpeechGeneration
from zidong.objectives.text_generation import TextGeneration

OBJECTIVES = ("mlm", "mim", "msm", "text_gen", "image_gen", "speech_gen", "contrastive",
              "matching", "ctc")
LEVEL = {"mlm": "token", "mim": "token", "msm": "token", "text_gen": "modality",
         "image_gen": "modality", "speech_gen": "modality", "contrastive": "sample",
         "matching": "sample", "ctc": "token"}
CONTRASTIVE = OBJECTIVES.index("contrastive")
# the Cells whose parameters only their objective trains: their gradient norm tells if it is alive
OWN_PARAMS = {"mlm": "mlm.", "mim": "mim.", "msm": "msm.", "text_gen": "model.text_decoder.",
              "image_gen": "model.image_decoder.", "speech_gen": "model.speech_decoder.",
              "contrastive": "contrastive.", "matching": "matching.", "ctc": "ctc."}
BATCH = ("text_ids", "text_mask", "dec_in", "dec_target", "dec_mask", "text_masked",
         "text_mlm_pos", "text_mlm_weight", "image", "image_mlm_mask", "mel", "mel_mask",
         "mel_mlm_mask", "mel_len", "presence", "hidden", "lang_id", "answer", "text_dur")


class PretrainNet(nn.Cell):
    def __init__(self, model, cfg: Config):
        super().__init__()
        m, mk = cfg.model, cfg.data.masking
        d = m.unified_dim
        self.model = model
        self.mlm = MaskedTextModelling(d, m.text.vocab_size)
        self.mim = MaskedImageModelling(d, m.image_tokenizer.codebook_size, m.vision.image_size,
                                        m.vision.patch_size, m.image_tokenizer.patch_size)
        self.msm = MaskedSpeechModelling(d, m.speech.n_mels, form=cfg.train.msm_loss)
        self.text_gen = TextGeneration()
        self.image_gen = ImageGeneration(m.image_tokenizer.codebook_size)
        self.speech_gen = SpeechGeneration(m.speech.max_frames)
        self.contrastive = Contrastive()
        self.matching = Matching(d)
        self.ctc = SpeechCTC(d, m.text.vocab_size)
        self.n_neg = mk.match_negatives
        h, generated = mk.hide_per_batch, cfg.train.objectives.generated
        # each enabled decoder's rows (text, image, speech), in the data pipeline's order
        # (first row, end) pairs: ints rather than slices, which graph mode takes as constants
        rows = {k: (i * h, (i + 1) * h) for i, k in enumerate(generated)}
        self.rows_t, self.rows_i, self.rows_s = (rows.get(k, (0, 0)) for k in range(3))
        self.neg_start = len(generated) * h
        # rows of the batch past the fusion batch feed only the clean contrastive pass (0: none)
        fused = cfg.train.fused_rows
        self.fused_rows = fused if fused < cfg.train.batch_size else 0
        self.lt, self.lv = 1 + m.text.max_len, 1 + m.vision_patches
        self.ls = 1 + m.speech_tokens
        self.frames_per_token = 4
        # an objective with weight 0 in the config is left out of the graph (not computed and
        # multiplied by 0): ablations and fine-tunes pay only for what they train
        on = {o: getattr(cfg.train.objectives, o) > 0 for o in OBJECTIVES}
        self.on_mlm, self.on_mim, self.on_msm = on["mlm"], on["mim"], on["msm"]
        self.on_text, self.on_image, self.on_speech = on["text_gen"], on["image_gen"], on["speech_gen"]
        self.on_contrastive, self.on_matching = on["contrastive"], on["matching"]
        self.on_ctc = on["ctc"]
        # the clean pass serves the sample level only (its embeddings also pick the matching
        # negatives): without it, e.g. image-only masked modelling, it is not computed
        self.use_clean = cfg.train.clean_contrastive and (self.on_contrastive or self.on_matching)

    # ---- hard negatives -------------------------------------------------------------------------
    def _swap_sources(self, embeds, presence):
        """Per sample and modality, the batch row whose content it gets: itself, except the
        negative slots, which take one modality (slot position % 3, if present) from the most
        similar other sample that has it. Returns sources (3, B) int32 and the swapped flags (B, 3)."""
        b = presence.shape[0]
        start = self.neg_start
        rows = ops.arange(b, dtype=ms.int32)
        sources, flags = [], []
        for k in range(3):
            e = ops.stop_gradient(embeds[k])
            sim = ops.matmul(e, e.T) - ops.eye(b, b, ms.float32) * 1e4 \
                - (1.0 - presence[:, k]).reshape(1, -1) * 1e4
            partner = ops.argmax(sim, dim=1).astype(ms.int32)
            slot = ((rows >= start) & (rows < start + self.n_neg) & ((rows - start) % 3 == k))
            ok = slot.astype(ms.float32) * presence[:, k] * (presence.sum(1) >= 2) \
                * ops.gather(presence[:, k], partner, 0)
            sources.append(ops.where(ok > 0, partner, rows))
            flags.append(ok)
        return sources, ops.stack(flags, 1)

    @staticmethod
    def _take(x, src):
        return ops.gather(x, src, 0)

    def _clean(self, text_ids, text_mask, image, mel, mel_mask):
        """Pooled embeddings of the unmasked inputs, one per modality."""
        model = self.model
        return (model.text_encoder(text_ids, text_mask)[2], model.vision_encoder(image)[2],
                model.speech_encoder(mel, mel_mask)[2])

    def _warm(self, text_ids, text_mask, image, mel, mel_mask, paired, weights):
        """The warm-start phase (``train.warm_start``): the contrastive loss on the clean pass of
        every row and nothing else, about 2.5 times cheaper per step than the full graph (2.0
        against 5.3 s on this machine). The masked pass, the fusion and the other heads wait for
        the full phase; they have no loss here, so their gradients are zero."""
        zero = ops.zeros((), ms.float32)
        contrastive = self.contrastive(self._clean(text_ids, text_mask, image, mel, mel_mask),
                                       paired)
        losses = (zero, zero, zero, zero, zero, zero, contrastive, zero, zero)
        return (contrastive * weights[CONTRASTIVE],) + losses

    def construct(self, text_ids, text_mask, dec_in, dec_target, dec_mask, text_masked,
                  text_mlm_pos, text_mlm_weight, image, image_mlm_mask, mel, mel_mask,
                  mel_mlm_mask, mel_len, presence, hidden, lang_id, answer, text_dur, weights,
                  warm=False):
        # weights (len(OBJECTIVES),): each objective's weight this step, in OBJECTIVES order (an input, so that
        # task sampling can switch objectives per step without another graph). ``warm`` (a Python
        # bool, hence a compile-time constant: one graph per value) selects the warm-start phase
        model = self.model
        zero = ops.zeros((), ms.float32)
        # a question is not a caption of its image: question-answer samples (``answer`` 1) take
        # no part in the sample level, as if their modalities were absent there
        paired = presence * (1.0 - answer).reshape(-1, 1)
        if warm:
            return self._warm(text_ids, text_mask, image, mel, mel_mask, paired, weights)
        if self.use_clean:
            # masking hides the very words ("red", "star") that tell two scenes apart: the
            # contrastive embeddings come from a second, unmasked pass of the encoders (over the
            # whole batch; with ``train.fusion_batch`` the rest of the step sees its first rows)
            clean = self._clean(text_ids, text_mask, image, mel, mel_mask)
            contrastive = self.contrastive(clean, paired) if self.on_contrastive else zero
        if self.fused_rows > 0:
            f = self.fused_rows
            text_ids, text_mask, dec_in, dec_target = text_ids[:f], text_mask[:f], dec_in[:f], \
                dec_target[:f]
            dec_mask, text_masked, text_mlm_pos = dec_mask[:f], text_masked[:f], text_mlm_pos[:f]
            text_mlm_weight, image, image_mlm_mask = text_mlm_weight[:f], image[:f], \
                image_mlm_mask[:f]
            mel, mel_mask, mel_mlm_mask, mel_len = mel[:f], mel_mask[:f], mel_mlm_mask[:f], \
                mel_len[:f]
            presence, hidden, lang_id, answer = presence[:f], hidden[:f], lang_id[:f], answer[:f]
            text_dur = text_dur[:f]
            paired = paired[:f]
            if self.use_clean:
                clean = (clean[0][:f], clean[1][:f], clean[2][:f])
        codes = ops.stop_gradient(model.image_tokenizer.encode(image))  # frozen VQ: targets
        # encoders on the token-masked inputs (one pass serves every objective)
        t_tok, t_msk, t_emb = model.text_encoder(text_masked, text_mask)
        i_tok, i_msk, i_emb = model.vision_encoder(image, image_mlm_mask)
        spans = mel_mlm_mask.reshape(mel.shape[0], -1, 1)
        s_tok, s_msk, s_emb = model.speech_encoder(mel * (1.0 - spans), mel_mask)
        if self.use_clean:
            t_emb, i_emb, s_emb = clean
        else:
            contrastive = self.contrastive((t_emb, i_emb, s_emb), paired) if self.on_contrastive \
                else zero

        # matching negatives swap one modality; everything else of the sample stays
        (src_t, src_i, src_s), swapped = self._swap_sources((t_emb, i_emb, s_emb), paired)
        positive = 1.0 - swapped.max(1)
        fused_presence = presence * (1.0 - hidden)
        memory, memory_mask = model.fusion(
            self._take(t_tok, src_t), self._take(t_msk, src_t), self._take(i_tok, src_i),
            self._take(i_msk, src_i), self._take(s_tok, src_s), self._take(s_msk, src_s),
            fused_presence)

        # sample level: matching labels 0 (match), 1 + k (modality k odd one out), 4 (pair)
        n_present = fused_presence.sum(1)
        which = ops.argmax(swapped, dim=1).astype(ms.int32)
        odd = ops.where(n_present >= 3, which + 1, ops.full_like(which, 4))
        labels = ops.where(positive > 0, ops.zeros_like(which), odd)
        matching = self.matching(memory[:, 0], labels,
                                 (n_present >= 2).astype(ms.float32) * (1.0 - answer)) \
            if self.on_matching else zero

        # token level, on real positives and on modalities the fusion saw
        a, b_, c = 2, 1 + self.lt + 1, 1 + self.lt + self.lv + 1
        seen = fused_presence * positive.reshape(-1, 1)
        mlm, mim, msm = zero, zero, zero
        if self.on_mlm:
            mlm = self.mlm(memory[:, a:a + self.lt - 1], text_mlm_pos, text_ids,
                           text_mlm_weight * seen[:, 0:1])
        if self.on_mim:
            mim = self.mim(memory[:, b_:b_ + self.lv - 1], codes, image_mlm_mask * seen[:, 1:2])
        if self.on_msm:
            msm = self.msm(memory[:, c:c + self.ls - 1], mel,
                           mel_mlm_mask * mel_mask * seen[:, 2:3])

        # modality level: each decoder on its slice of the batch
        st, si, ss = slice(self.rows_t[0], self.rows_t[1]), slice(self.rows_i[0], self.rows_i[1]), \
            slice(self.rows_s[0], self.rows_s[1])
        text_gen, image_gen, speech_gen = zero, zero, zero
        if self.on_text:
            text_logits = model.text_decoder(dec_in[st], memory[st], memory_mask[st])
            # the hidden text, or the answer to a visible question
            learn = ops.maximum(hidden[st][:, 0:1], answer[st].reshape(-1, 1))
            text_gen = self.text_gen(text_logits, dec_target[st], dec_mask[st] * learn)
        if self.on_image:
            code_logits = model.image_decoder(self.image_gen.decoder_input(codes[si]), memory[si],
                                              memory_mask[si])
            image_gen = self.image_gen(code_logits, codes[si], hidden[si][:, 1])
        if self.on_speech:
            sd = model.speech_decoder
            if sd.aligned:
                # teacher-forced token boundaries where the sample has word times
                pred, frac = sd(memory[ss], memory_mask[ss], mel_len[ss], lang_id[ss],
                                text_dur[ss])
                speech_gen = self.speech_gen(pred, frac, mel[ss], mel_mask[ss], mel_len[ss],
                                             hidden[ss][:, 2],
                                             sd.duration_shares(memory[ss], memory_mask[ss]),
                                             sd.seen_durations(text_dur[ss], memory_mask[ss]))
            else:
                pred, frac = sd(memory[ss], memory_mask[ss], mel_len[ss], lang_id[ss])
                speech_gen = self.speech_gen(pred, frac, mel[ss], mel_mask[ss], mel_len[ss],
                                             hidden[ss][:, 2])

        # token level, speech to its transcript (the speech encoder's own tokens: the text is
        # the target even where the fusion does not see it)
        ctc = self.ctc(s_tok[:, 1:], s_msk[:, 1:], text_ids, text_mask,
                       paired[:, 0] * paired[:, 2]) if self.on_ctc else zero

        losses = (mlm, mim, msm, text_gen, image_gen, speech_gen, contrastive, matching, ctc)
        total = (ops.stack(losses) * weights).sum()
        return (total,) + losses
