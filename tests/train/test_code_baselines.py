"""tools/code_baselines.py: the probability each simple predictor gives the true VQ code, and the
mixture fitted over them."""
import numpy as np

from tests.tools import load_tool

tool = load_tool("code_baselines")


def test_raster_predictors_read_the_left_and_upper_codes():
    # a 2x2 grid: [[3, 3], [5, 3]]; codebook of 8, uniform unigram
    unigram = np.full(8, 1 / 8)
    q = tool.raster_probs(np.array([[3, 3, 5, 3]]), 8, unigram)
    assert q.shape == (4, 4)
    np.testing.assert_allclose(q[0], [1 / 8] * 4)             # nothing before the first code
    np.testing.assert_allclose(q[1], [1.0, 1 / 8, 1.0, 1 / 8])  # left is 3, no upper row
    np.testing.assert_allclose(q[2], [1 / 8, 0.0, 0.0, 1 / 8])  # first of its row, upper is 3
    np.testing.assert_allclose(q[3], [0.0, 1.0, 2 / 3, 1 / 8])  # left 5, upper 3, 3 was 2 of 3


def test_hidden_patches_are_scored_from_the_visible_codes_only():
    # 4x4 grids of code 1 with a single code 2 in the last cell; one patch hidden per image
    codes = np.array([[1] * 15 + [2]] * 64)
    q = tool.masked_probs(codes, 4, 1, np.random.default_rng(0), np.full(4, 1 / 4))
    assert q.shape == (64, 3) and (q[:, 2] == 0.25).all()
    rows = {tuple(r) for r in q[:, :2].round(6)}
    # a hidden 1: 14 of the 15 visible codes are 1 and its nearest visible cell holds a 1; the
    # hidden 2: no visible 2 (the hidden code itself is not counted), nearest visible cell a 1
    assert rows == {(round(14 / 15, 6), 1.0), (0.0, 0.0)}


def test_the_fitted_mixture_leans_on_the_predictor_that_is_right():
    # column 0 always right, column 1 never, the last a smoothed fallback
    q = np.array([[1.0, 0.0, 0.1]] * 50)
    ws = tool.best_mixture(q)
    assert ws[0] >= 0.9 and ws[1] == 0.0 and abs(sum(ws) - 1.0) < 1e-9
    assert tool.mixture_nll(q, ws) < tool.mixture_nll(q, (0.0, 0.0, 1.0))
