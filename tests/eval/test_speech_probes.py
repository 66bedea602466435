"""tools/probe_text_tokens.py and tools/mel_template.py: the readers behind the speech decoder's
diagnosis (docs/results.md) read what is there and no more."""
import numpy as np

from tests.tools import load_tool


def test_token_probe_names_tokens_written_into_the_vectors_and_not_others():
    tool, rng = load_tool("probe_text_tokens"), np.random.default_rng(0)
    tokens = rng.integers(0, 5, 600)
    positions = rng.integers(0, 8, 600)
    sample = np.arange(600) // 6
    codes = rng.standard_normal((5, 32))
    named = codes[tokens] + 0.3 * rng.standard_normal((600, 32))
    r = tool.probe(named, tokens, positions, sample)
    assert r["token_acc"] > 0.95 and r["token_share"] > 0.8 and r["position_share"] < 0.1
    blind = rng.standard_normal((600, 32))                       # no token in it
    r = tool.probe(blind, tokens, positions, sample)
    assert r["token_acc"] < 0.4 and r["token_share"] < 0.05       # chance 0.2
    fit = sample < 50
    assert tool.position_baseline(positions[fit], tokens[fit], positions[~fit],
                                  tokens[~fit]) < 0.4


def test_frame_keys_place_each_frame_in_its_token_at_its_offset():
    tool = load_tool("mel_template")
    tokens, shares = np.array([7, 8, 9]), np.array([0.25, 0.5, 0.25])
    tok, bins = tool.frame_keys(tokens, shares, frames=8, bins=2)
    assert tok.tolist() == [7, 7, 8, 8, 8, 8, 9, 9]
    assert bins.tolist() == [0, 1, 0, 0, 1, 1, 0, 1]
