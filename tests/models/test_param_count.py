"""``zidong plan`` counts: equal to the built Cells where they fit, formulas for the rest."""
import pytest

from zidong.config import load_config
from zidong.models import create_model
from zidong.models.param_count import COMPONENTS, count_parameters


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_counts_equal_the_built_cells(preset):
    cfg = load_config(preset).model
    model = create_model(cfg)
    counts = count_parameters(cfg)
    for name in COMPONENTS:
        built = sum(p.size for p in getattr(model, name).get_parameters())
        assert counts[name] == built, name
    assert counts["total"] == sum(p.size for p in model.get_parameters())


def test_counts_follow_overrides_of_every_size():
    for override in ["model.fusion.layers=5", "model.text.vocab_size=999", "model.unified_dim=96",
                     "model.image_tokenizer.codebook_size=100", "model.speech.n_mels=24",
                     "model.speech_decoder.reduction=2", "model.vision.patch_size=4",
                     "model.vision.stem=hmlp", "model.vision.stem=conv", "model.vision.stem=overlap",
                     ["model.vision.stem=conv", "model.vision.conv_layers=8/2,16/2,16/1,32/2"],
                     ["model.vision.stem=conv", "model.vision.conv_norm=layer"],
                     ["model.speech_decoder.align_prior=0.1",
                      "model.speech_decoder.align_durations=learned"]]:
        cfg = load_config("tiny", override if isinstance(override, list) else [override]).model
        built = sum(p.size for p in create_model(cfg).get_parameters())
        assert count_parameters(cfg)["total"] == built, override


@pytest.mark.parametrize("preset,low,high", [("tiny", 0, 5e6), ("small", 20e6, 40e6),
                                             ("base", 0.8e9, 1.5e9), ("large", 8e9, 15e9),
                                             ("xl", 100e9, 200e9)])
def test_presets_are_the_sizes_they_claim(preset, low, high):
    assert low <= count_parameters(load_config(preset).model)["total"] <= high


def test_base_fusion_is_the_reference_size():
    m = load_config("base").model
    assert (m.unified_dim, m.fusion.layers) == (2048, 12)
    m = load_config("large").model
    assert (m.unified_dim, m.fusion.layers) == (4096, 48)
