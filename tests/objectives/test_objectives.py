import numpy as np
import mindspore as ms

from zidong.objectives.contrastive import Contrastive
from zidong.objectives.masked_image import patch_to_code_index


def _ce(logits, labels):
    z = logits - logits.max(1, keepdims=True)
    return -(z[np.arange(len(labels)), labels] - np.log(np.exp(z).sum(1)))


def test_contrastive_is_symmetric_infonce_over_present_pairs():
    rng = np.random.default_rng(0)
    e = [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(3)]
    e = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in e]
    presence = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 1, 1]], np.float32)
    got = float(Contrastive(0.1)(tuple(ms.Tensor(x) for x in e), ms.Tensor(presence)).asnumpy())
    losses = []
    for i, j in ((0, 1), (0, 2), (1, 2)):
        rows = np.flatnonzero(presence[:, i] * presence[:, j])
        logits = e[i][rows] @ e[j][rows].T * 10.0
        lab = np.arange(len(rows))
        losses.append((_ce(logits, lab).mean() + _ce(logits.T, lab).mean()) / 2)
    assert abs(got - np.mean(losses)) < 1e-5


def test_masked_image_targets_map_vision_patches_to_vq_cells():
    same = patch_to_code_index(64, 8, 8)
    assert (same == np.arange(64)).all()
    coarse = patch_to_code_index(448, 32, 56)  # base: 14 x 14 patches, 8 x 8 codes
    assert coarse.shape == (196,) and coarse.max() == 63 and coarse[0] == 0
    # patch row 0 (centre y 16) and row 1 (y 48) lie in code row 0; row 2 (y 80) in code row 1
    assert coarse[13] == 7 and coarse[14] == 0 and coarse[28] == 8


def test_contrastive_alone_aligns_the_encoders_on_a_fixed_batch():
    """Gradients reach all three encoders through the pooled embeddings: the objective overfits."""
    from mindspore import nn

    from tests.conftest import make_batch
    from zidong.config import load_config
    from zidong.models import create_model
    from zidong.train.step import make_train_step
    cfg = load_config("tiny").model
    ms.set_seed(0)
    model, con = create_model(cfg), Contrastive()
    batch = make_batch(cfg, [[1, 1, 1]] * 8, seed=1, text_len=8, frames=40)

    def loss_fn(ids, text_mask, image, mel, mel_mask, presence):
        _, _, t, i, s = model(ids, text_mask, image, mel, mel_mask, presence)
        return con((t, i, s), presence)

    step = make_train_step(loss_fn, nn.Adam(model.trainable_params() + con.trainable_params(),
                                            1e-3), clip_norm=1.0)
    losses = [float(step(*batch).asnumpy()) for _ in range(60)]
    assert losses[0] > 1.5 and losses[-1] < 0.05 * losses[0], losses[::10]
