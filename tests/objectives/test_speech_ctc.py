"""The speech-to-transcript CTC objective: per-token loss over the rows that count, no NaN from the
rows that do not, and a head that can learn to transcribe."""
import numpy as np
import mindspore as ms
from mindspore import nn

from zidong.objectives.speech_ctc import SpeechCTC


def _brute_force_ctc(logp, target):
    """-log P(target) summed over every alignment of len(logp) frames (blank 0), enumerated."""
    import itertools
    t, c = logp.shape
    total = -np.inf
    for path in itertools.product(range(c), repeat=t):
        collapsed = [k for i, k in enumerate(path) if k != 0 and (i == 0 or path[i - 1] != k)]
        if collapsed == list(target):
            total = np.logaddexp(total, sum(logp[i, k] for i, k in enumerate(path)))
    return -total


def test_ctc_is_the_per_token_transcript_loss_of_the_rows_that_count():
    rng = np.random.default_rng(0)
    ctc = SpeechCTC(dim=8, vocab_size=4)
    tokens = rng.normal(size=(3, 5, 8)).astype(np.float32)
    speech_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 0]], np.float32)
    ids = np.array([[1, 2, 0], [3, 3, 0], [0, 0, 0]], np.int32)   # row 1 repeats a token
    text_mask = (ids > 0).astype(np.float32)
    text_mask[2] = [1, 0, 0]                                       # row 2: text, no speech
    weight = np.array([1.0, 1.0, 0.0], np.float32)
    got = float(ctc(*map(ms.Tensor, (tokens, speech_mask, ids, text_mask, weight))).asnumpy())

    logits = ctc.head(ms.Tensor(tokens)).asnumpy().astype(np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = np.mean([_brute_force_ctc(logp[0], [1, 2]) / 2,
                    _brute_force_ctc(logp[1, :4], [3, 3]) / 2])
    assert np.isfinite(got) and abs(got - want) < 1e-4, (got, want)


def test_a_ctc_head_learns_to_transcribe_fixed_tokens():
    rng = np.random.default_rng(1)
    ms.set_seed(1)
    ctc = SpeechCTC(dim=16, vocab_size=6)
    tokens = ms.Tensor(rng.normal(size=(2, 8, 16)).astype(np.float32))
    speech_mask = ms.Tensor(np.ones((2, 8), np.float32))
    ids = np.array([[1, 4, 4, 2], [5, 3, 0, 0]], np.int32)
    text_mask = ms.Tensor((ids > 0).astype(np.float32))
    weight = ms.Tensor(np.ones(2, np.float32))
    opt = nn.Adam(ctc.trainable_params(), 1e-2)

    def loss_fn():
        return ctc(tokens, speech_mask, ms.Tensor(ids), text_mask, weight)
    grad = ms.value_and_grad(loss_fn, None, opt.parameters)
    first = None
    for _ in range(200):
        loss, g = grad()
        opt(g)
        first = first if first is not None else float(loss.asnumpy())
    assert float(loss.asnumpy()) < 0.1 * first
    best = ctc.head(tokens).asnumpy().argmax(-1)
    for row, target in zip(best, ([1, 4, 4, 2], [5, 3])):
        collapsed = [int(k) for i, k in enumerate(row) if k != 0 and (i == 0 or row[i - 1] != k)]
        assert collapsed == target, row
