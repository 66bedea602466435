"""The tri-modal model: three encoders into one unified space, the fusion transformer, and the
decoders (text, VQ image tokens, speech) that generate from the fused memory."""
from __future__ import annotations

from mindspore import nn

from zidong.config.schema import ModelConfig

from .decoder import ARDecoder
from .fusion import Fusion
from .image_tokenizer import ImageTokenizer
from .speech_decoder import SpeechDecoder
from .speech_encoder import SpeechEncoder
from .text_encoder import TextEncoder
from .vision_encoder import VisionEncoder


class ZidongModel(nn.Cell):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d, p = cfg.unified_dim, cfg.dropout
        self.text_encoder = TextEncoder(cfg.text, d, p)
        self.vision_encoder = VisionEncoder(cfg.vision, d, p)
        self.speech_encoder = SpeechEncoder(cfg.speech, d, p)
        self.fusion = Fusion(cfg.fusion, d, p)
        self.text_decoder = ARDecoder(cfg.text_decoder, cfg.text.vocab_size, cfg.text.vocab_size,
                                      cfg.text.max_len, d, p)
        self.image_tokenizer = ImageTokenizer(cfg.image_tokenizer, cfg.vision.image_size,
                                              cfg.vision.channels)
        # image decoder input vocabulary: the codes plus one BOS id (= codebook_size)
        self.image_decoder = ARDecoder(cfg.image_decoder, cfg.image_tokenizer.codebook_size + 1,
                                       cfg.image_tokenizer.codebook_size, cfg.image_tokens, d, p)
        self.speech_decoder = SpeechDecoder(cfg.speech_decoder, cfg.speech.n_mels,
                                            cfg.speech.max_frames, d, p, text_len=cfg.text.max_len)

    def construct(self, text_ids, text_mask, images, mel, mel_mask, presence):
        """Encode whatever is present and fuse it.

        text_ids/text_mask (B, Lt); images (B, C, H, W); mel/mel_mask (B, T, n_mels)/(B, T);
        presence (B, 3) 1/0 for text, image, speech. Returns the fused memory (B, Lf, D), its mask
        (B, Lf) and the three pooled unified-space embeddings (B, D).
        """
        t_tok, t_mask, t_emb = self.text_encoder(text_ids, text_mask)
        i_tok, i_mask, i_emb = self.vision_encoder(images)
        s_tok, s_mask, s_emb = self.speech_encoder(mel, mel_mask)
        fused, fused_mask = self.fusion(t_tok, t_mask, i_tok, i_mask, s_tok, s_mask, presence)
        return fused, fused_mask, t_emb, i_emb, s_emb
