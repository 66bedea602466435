"""Masked speech modelling's contrastive form (``train.msm_loss=contrastive``): InfoNCE over the
batch's wholly hidden 4-frame patches, against a NumPy reference."""
import numpy as np
import mindspore as ms
import pytest
from mindspore import Tensor, nn

from zidong.objectives.masked_speech import MaskedSpeechModelling

K, MELS = 4, 6


def _reference(pred, mel, weights, temperature=0.1):
    b, t, m = mel.shape
    n = t // K
    on = weights.reshape(b * n, K).min(1)
    tgt = mel.reshape(b * n, K * m)
    tgt = tgt - tgt.mean(1, keepdims=True)
    tgt /= np.linalg.norm(tgt, axis=1, keepdims=True)
    p = pred / np.linalg.norm(pred, axis=1, keepdims=True)
    cand = np.flatnonzero(on)
    losses = []
    for i in cand:
        logits = p[i] @ tgt[cand].T / temperature
        z = logits - logits.max()
        losses.append(-(z[list(cand).index(i)] - np.log(np.exp(z).sum())))
    return float(np.mean(losses))


def _case(seed=0):
    rng = np.random.default_rng(seed)
    mel = rng.standard_normal((3, 16, MELS)).astype(np.float32)  # 3 rows of 4 tokens
    weights = np.zeros((3, 16), np.float32)
    weights[0, 0:8] = 1      # tokens 0 and 1, wholly hidden
    weights[0, 10:14] = 1    # half of token 2 and half of token 3: neither takes part
    weights[1, 4:12] = 1     # tokens 1 and 2
    weights[1, 13:16] = 1    # 3 of token 3's frames: not wholly hidden
    pred = rng.standard_normal((12, K * MELS)).astype(np.float32)
    return pred, mel, weights


def test_contrastive_form_matches_the_reference_and_skips_partly_visible_tokens():
    pred, mel, weights = _case()
    msm = MaskedSpeechModelling(8, MELS, form="contrastive")
    got = float(msm._nce(Tensor(pred), Tensor(mel), Tensor(weights)).asnumpy())
    assert abs(got - _reference(pred, mel, weights)) < 1e-4
    # a row that does not count (weights 0: no speech, or not seen by the fusion) changes nothing
    # but the candidates: the reference over the same four tokens agrees
    weights[2] = 0
    got = float(msm._nce(Tensor(pred), Tensor(mel), Tensor(weights)).asnumpy())
    assert abs(got - _reference(pred, mel, weights)) < 1e-4


def test_contrastive_targets_ignore_a_patch_s_loudness():
    pred, mel, weights = _case(1)
    msm = MaskedSpeechModelling(8, MELS, form="contrastive")
    louder = mel + np.repeat(np.arange(12, dtype=np.float32), K).reshape(3, 16, 1)
    a = float(msm._nce(Tensor(pred), Tensor(mel), Tensor(weights)).asnumpy())
    b = float(msm._nce(Tensor(pred), Tensor(louder), Tensor(weights)).asnumpy())
    assert abs(a - b) < 1e-4


def test_contrastive_form_learns_to_pick_the_hidden_patch():
    """The head alone, over fixed features that carry the answer, learns the task: the loss
    falls from about log(candidates) to a small fraction of it."""
    ms.set_seed(0)
    _, mel, weights = _case(2)
    rng = np.random.default_rng(3)
    # features: a fixed random projection of the true patch, so the answer is recoverable
    proj = rng.standard_normal((K * MELS, 16)).astype(np.float32)
    feats = Tensor((mel.reshape(12, K * MELS) @ proj).reshape(3, 4, 16))
    msm = MaskedSpeechModelling(16, MELS, form="contrastive")
    opt = nn.Adam(msm.trainable_params(), 1e-2)
    mel_t, weights_t = Tensor(mel), Tensor(weights)

    def loss_fn(f):
        return msm(f, mel_t, weights_t)
    grad_fn = ms.value_and_grad(loss_fn, None, opt.parameters)
    losses = []
    for _ in range(60):
        loss, grads = grad_fn(feats)
        opt(grads)
        losses.append(float(loss.asnumpy()))
    assert losses[0] > 1.0 and losses[-1] < 0.2 * losses[0], losses[::10]


def test_an_unknown_form_is_refused():
    with pytest.raises(ValueError, match="form 'l2': expected one of"):
        MaskedSpeechModelling(8, MELS, form="l2")


def test_pretraining_with_contrastive_masked_speech_trains_the_speech_encoder(mini_corpus):
    from tests.objective_grads import first_batch, objective_gradients
    from zidong.config import load_config
    cfg = load_config("tiny", ["data.masking.hide_per_batch=2", "data.masking.match_negatives=2",
                               "train.batch_size=8", "data.masking.speech_span=8",
                               "train.msm_loss=contrastive"])
    loss, grads = objective_gradients(cfg, first_batch(cfg, mini_corpus), "msm",
                                      ("model.speech_encoder.", "model.fusion.", "msm."))
    # about log(candidates) at the start: 2 spans of 8 frames hide at least 2 tokens per row
    assert np.isfinite(loss) and loss > 1.0
    assert all(v > 0 for v in grads.values()), grads
