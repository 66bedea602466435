"""The EMA codebook re-seeds a code nothing picks soon enough for a short CPU VQ stage."""
import math

import numpy as np
import mindspore as ms

from zidong.models.image_tokenizer import EMAQuantizer


def test_a_restarted_code_is_credited_one_assignment_per_ema_window():
    decay = 0.99
    q = EMAQuantizer(codebook_size=16, code_dim=2, decay=decay, commitment=0.25)
    q.set_train(True)
    z = np.random.default_rng(0).normal(size=(1, 8, 2)).astype(np.float32) * 3
    chosen = set(q.codes(ms.Tensor(z[0])).asnumpy().tolist())
    q(ms.Tensor(z))  # usage starts at zero: every code no vector chose is restarted
    size, avg, emb = (p.asnumpy() for p in (q.cluster_size, q.embed_avg, q.embedding))
    restarted = [k for k in range(16) if k not in chosen]
    assert len(restarted) >= 8
    # twice the death threshold, so an unused restart dies again after ln 2 / (1 - decay) steps
    # (~70); a full assignment per step (the old credit) kept it alive ~530, longer than the stage
    np.testing.assert_allclose(size[restarted], 2 * q.dead_threshold, rtol=1e-6)
    assert math.log(size[restarted[0]] / q.dead_threshold) / -math.log(decay) < 70
    # the EMA sum agrees with the code, so the next update starts from the restarted position
    np.testing.assert_allclose(avg[restarted] / size[restarted, None], emb[restarted], rtol=1e-5)
    # and every restart sits on an encoder output of this batch
    for k in restarted:
        assert np.abs(z[0] - emb[k]).sum(1).min() < 1e-5
