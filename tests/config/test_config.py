import pytest

from zidong.config import ConfigError, config_from_dict, config_to_dict, load_config, preset_names


def test_all_presets_load_and_validate():
    assert {"tiny", "small", "base", "large", "xl"} <= set(preset_names())
    for name in preset_names():
        cfg = load_config(name)
        assert cfg.name == name


def test_override_changes_value_and_type_is_checked():
    cfg = load_config("tiny", ["model.fusion.layers=3", "train.lr=0.5"])
    assert cfg.model.fusion.layers == 3 and cfg.train.lr == 0.5
    with pytest.raises(ConfigError, match=r"model.fusion.layers: expected an integer, got 'many'"):
        load_config("tiny", ["model.fusion.layers=many"])


def test_exponent_floats_without_a_dot_are_numbers(tmp_path):
    # YAML 1.1 (PyYAML) reads 5e-05 as a string; `--lr 5e-5` writes exactly that
    cfg = load_config("tiny", ["train.lr=5e-05", "train.weight_decay=1E-2"])
    assert cfg.train.lr == 5e-5 and cfg.train.weight_decay == 0.01
    path = tmp_path / "c.yaml"
    path.write_text("base: tiny\ntrain: {lr: 3e-4, max_steps: 7}\n")
    cfg = load_config(path)
    assert cfg.train.lr == 3e-4 and cfg.train.max_steps == 7
    with pytest.raises(ConfigError, match=r"train.max_steps: expected an integer, got 1000.0"):
        load_config("tiny", ["train.max_steps=1e3"])


def test_an_empty_override_is_the_empty_string():
    assert load_config("tiny", ["train.freeze=text_encoder"]).train.frozen == ("text_encoder",)
    assert load_config("tiny", ["train.freeze="]).train.frozen == ()


def test_the_conv_stem_needs_a_power_of_two_patch():
    load_config("tiny", ["model.vision.stem=conv", "model.vision.patch_size=4"])
    with pytest.raises(ConfigError, match=r"model.vision.patch_size: the conv stem needs a power "
                                          r"of 2, got 12"):
        load_config("tiny", ["model.vision.stem=conv", "model.vision.image_size=48",
                             "model.vision.patch_size=12"])


def test_conv_layers_name_each_convolution_and_their_strides_make_the_patch():
    cfg = load_config("tiny", ["model.vision.stem=conv", "model.vision.conv_layers=8/2,16/2,16/1,32/2"])
    assert cfg.model.vision.conv_layers == "8/2,16/2,16/1,32/2"
    for spec, message in [("8/2,16/2", "the strides must multiply to patch_size 8"),
                          ("8/2,16/3,32/2", "expected channels/stride items"),
                          ("wide", "expected channels/stride items")]:
        with pytest.raises(ConfigError, match=f"model.vision.conv_layers: {message}"):
            load_config("tiny", ["model.vision.stem=conv", f"model.vision.conv_layers={spec}"])
    with pytest.raises(ConfigError, match="model.vision.conv_layers: only the conv stem reads it"):
        load_config("tiny", ["model.vision.stem=hmlp", "model.vision.conv_layers=8/2,16/2,32/2"])


def _bad(change):
    data = config_to_dict(load_config("tiny"))
    change(data)
    with pytest.raises(ConfigError) as err:
        config_from_dict(data, "bad.yaml")
    return str(err.value)


def _set(path, value):
    def change(data):
        node = data
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
    return change


@pytest.mark.parametrize("path,value,expected", [
    (("model", "fusion", "heads"), 5, "bad.yaml: model.fusion.heads: hidden size 64 is not "
                                      "divisible by heads=5; allowed heads: [1, 2, 4, 8"),
    (("model", "text", "heads"), 3, "model.text.heads: hidden size 64 is not divisible"),
    (("model", "vision", "patch_size"), 5, "model.vision.patch_size: image_size 32 is not "
                                           "divisible by patch_size 5"),
    (("model", "vision", "stem"), "resnet", "model.vision.stem: must be one of ('linear', 'hmlp', "
                                            "'conv', 'overlap'), got 'resnet'"),
    (("model", "vision", "conv_norm"), "group", "model.vision.conv_norm: must be one of "
                                                "('batch', 'layer'), got 'group'"),
    (("model", "speech", "max_frames"), 30, "model.speech.max_frames: must be a multiple of 4"),
    (("model", "text", "layers"), 0, "model.text.layers: must be > 0, got 0"),
    (("model", "dropout"), 1.5, "model.dropout: must be in [0, 1), got 1.5"),
    (("data", "masking", "decoder_dropout"), 1.0, "data.masking.decoder_dropout: must be in "
                                                  "[0, 1), got 1.0"),
    (("model", "image_tokenizer", "ema_decay"), 1.0, "model.image_tokenizer.ema_decay: must be in"),
    (("model", "image_tokenizer", "patch_size"), 6, "model.image_tokenizer.patch_size: "
                                                    "model.vision.image_size 32 is not divisible"),
    (("model", "speech_decoder", "reduction"), 3, "model.speech_decoder.reduction: "
                                                  "model.speech.max_frames 64 is not divisible"),
    (("context", "precision"), "bf16", "context.precision: bf16 is Ascend-only"),
    (("context", "device"), "GPU", "context.device: 'GPU' is not allowed; allowed values: "
                                   "['CPU', 'Ascend']"),
    (("context", "mode"), "eager", "context.mode: 'eager' is not allowed"),
    (("model", "text", "vocab_size"), "big", "model.text.vocab_size: expected an integer"),
    (("parallel", "optimizer_shard"), "yes", "parallel.optimizer_shard: expected true or false"),
    (("model", "unified_dim"), 64.0, "model.unified_dim: expected an integer, got 64.0"),
    (("train", "warm_start"), 1.0, "train.warm_start: must be in [0, 1), got 1.0"),
    (("train", "msm_loss"), "l2", "train.msm_loss: must be one of ('l1', 'contrastive'), got 'l2'"),
])
def test_each_bad_value_has_its_own_clear_error(path, value, expected):
    assert expected in _bad(_set(path, value))


def test_unknown_key_names_the_allowed_keys():
    msg = _bad(lambda d: d["model"]["fusion"].update(hidden=64))
    assert "bad.yaml: model.fusion.hidden: unknown key; allowed keys here: ['ffn_dim', 'heads', " \
           "'layers']" in msg
    assert "top_level_typo: unknown key" in _bad(lambda d: d.update(top_level_typo=1))


def test_o2_rejected_on_cpu_and_needs_low_precision():
    assert "context.amp_level: O2 is Ascend-only" in _bad(
        lambda d: d["context"].update(precision="fp16", amp_level="O2"))
    assert "amp_level O1 needs precision fp16 or bf16" in _bad(
        lambda d: d["context"].update(amp_level="O1"))
    # on Ascend the same settings are valid
    data = config_to_dict(load_config("tiny"))
    data["context"].update(device="Ascend", precision="bf16", amp_level="O2")
    assert config_from_dict(data).context.amp_level == "O2"


def test_section_must_be_a_mapping():
    assert "model.text: expected a mapping" in _bad(_set(("model", "text"), 3))


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="nosuchpreset: neither a YAML file nor a preset"):
        load_config("nosuchpreset")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config("tiny", ["model.fusion.layers"])


def test_an_enabled_token_objective_needs_something_masked():
    with pytest.raises(ConfigError, match=r"data.masking.text_count: is 0, so train.objectives.mlm"):
        load_config("tiny", ["data.masking.text_count=0"])
    cfg = load_config("tiny", ["data.masking.text_count=0", "train.objectives.mlm=0"])
    assert cfg.data.masking.text_count == 0


def test_contrastive_masked_speech_needs_spans_that_cover_a_speech_token():
    with pytest.raises(ConfigError, match=r"data.masking.speech_span: is 6; train.msm_loss="
                                          r"contrastive needs spans of at least 7 frames"):
        load_config("tiny", ["train.msm_loss=contrastive", "data.masking.speech_span=6"])
    # the regression form scores frames, any span will do
    assert load_config("tiny", ["data.masking.speech_span=6"]).data.masking.speech_span == 6


def test_a_warm_start_needs_the_contrastive_objective_and_no_pipeline():
    def no_contrastive(data):
        data["train"]["warm_start"] = 0.5
        data["train"]["objectives"]["contrastive"] = 0.0
    assert "train.warm_start: is 0.5 but train.objectives.contrastive is 0" in _bad(no_contrastive)

    def piped(data):
        data["train"]["warm_start"] = 0.5
        data["parallel"]["pipeline_stage"] = 2
    assert "pipeline parallelism (parallel.pipeline_stage 2) does not support" in _bad(piped)
