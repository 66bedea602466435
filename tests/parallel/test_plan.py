"""``zidong plan``: every shipped config passes its mesh/strategy/memory rules; each broken variant
fails naming the rule it breaks."""
import pytest

from zidong.cli import main
from zidong.config import ConfigError, load_config, preset_names
from zidong.models.param_count import count_parameters
from zidong.parallel.plan import RULES, make_plan, objective_heads

CLUSTERS = ["cluster_1x8", "cluster_4x8", "cluster_16x8", "cluster_128x8"]


def test_cluster_configs_exist_and_use_the_issue_sizes():
    assert set(CLUSTERS) <= set(preset_names())
    expect = {"cluster_1x8": (1, "base"), "cluster_4x8": (4, "large"), "cluster_16x8": (16, "large"),
              "cluster_128x8": (128, "xl")}
    for name, (nodes, preset) in expect.items():
        cfg = load_config(name)
        assert cfg.name == name
        assert (cfg.parallel.nodes, cfg.parallel.devices_per_node) == (nodes, 8)
        assert cfg.model == load_config(preset).model  # the preset's model, unchanged


@pytest.mark.parametrize("name", sorted(set(preset_names())))
def test_every_shipped_config_passes(name):
    plan = make_plan(load_config(name))
    assert plan.ok, plan.violations
    assert plan.memory["configured"] > 0


def test_xl_plan_on_128_nodes_fits_a_910b_only_with_sharding_and_recompute():
    plan = make_plan(load_config("cluster_128x8"))
    assert len(plan.stages) == 8 and all(s.units for s in plan.stages)
    assert plan.memory["configured"] <= plan.budget < plan.memory["recompute"]
    assert plan.memory["plain"] > plan.memory["optimizer_shard"] > plan.memory["configured"]


BROKEN = [
    ("cluster_4x8", ["parallel.data_parallel=2"], "device_count"),
    ("tiny", ["parallel.model_parallel=2", "parallel.devices_per_node=2"], "cpu_data_parallel_only"),
    ("tiny", ["parallel.optimizer_shard=true"], "cpu_data_parallel_only"),
    ("cluster_4x8", ["model.fusion.heads=4"], "heads_divisible"),
    ("cluster_4x8", ["model.fusion.ffn_dim=16380"], "ffn_divisible"),
    ("cluster_4x8", ["model.text.vocab_size=64001"], "vocab_divisible"),
    ("cluster_128x8", ["train.batch_size=66"], "batch_divisible"),
    ("cluster_128x8", ["data.masking.hide_per_batch=2"], "micro_batch_layout"),
    ("cluster_128x8", ["parallel.micro_batch_num=4"], "micro_batches_ge_stages"),
    ("tiny", ["context.device=Ascend", "parallel.pipeline_stage=16", "parallel.devices_per_node=16",
              "parallel.micro_batch_num=16", "train.batch_size=128"], "layers_per_stage"),
    ("cluster_4x8", ["train.grad_accum=2"], "data_parallel_only"),
    ("cluster_1x8", ["train.fusion_batch=24"], "data_parallel_only"),
    ("cluster_4x8", ["parallel.recompute=false"], "memory"),
    ("cluster_128x8", ["parallel.npu=910A"], "memory"),
    ("cluster_1x8", ["context.max_device_memory=10GB"], "memory"),
]


@pytest.mark.parametrize("name,overrides,rule", BROKEN, ids=[b[2] + "-" + b[0] for b in BROKEN])
def test_broken_variant_fails_naming_its_rule(name, overrides, rule, capsys):
    plan = make_plan(load_config(name, overrides))
    assert rule in {r for r, _ in plan.violations}, plan.violations
    assert set(r for r, _ in plan.violations) <= set(RULES)
    assert main(["plan", "--config", name] + sum((["--set", o] for o in overrides), [])) == 1
    assert f"rule {rule}:" in capsys.readouterr().err


def test_partition_covers_every_block_once_in_order_and_params_add_up():
    cfg = load_config("xl", ["parallel.model_parallel=1", "parallel.data_parallel=128"])
    plan = make_plan(cfg)
    m = cfg.model
    blocks = sum(t.layers for t in (m.text, m.vision, m.speech, m.fusion, m.text_decoder,
                                    m.image_decoder, m.speech_decoder))
    assert sum(len(s.units) for s in plan.stages) == blocks
    counts = count_parameters(m)
    trainable = counts["total"] - counts["image_tokenizer"] + sum(
        s + r for s, r in objective_heads(cfg).values())
    assert sum(s.params(1) for s in plan.stages) == trainable
    assert plan.frozen_params == counts["image_tokenizer"]


def test_objective_head_counts_equal_the_built_pretrain_net(tiny):
    from zidong.models import create_model
    from zidong.train.pretrain_net import PretrainNet
    net = PretrainNet(create_model(tiny.model), tiny)
    built = {}
    for p in net.get_parameters():
        head = p.name.split(".")[0]
        if head != "model":
            built[head] = built.get(head, 0) + p.size
    assert built == {k: s + r for k, (s, r) in objective_heads(tiny).items() if s + r}


def test_config_base_key_inherits_and_overrides(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("base: cluster_4x8\nname: mine\nparallel: {nodes: 16, data_parallel: 16}\n")
    cfg = load_config(f)
    assert (cfg.parallel.nodes, cfg.parallel.data_parallel, cfg.parallel.model_parallel) == (16, 16, 8)
    assert cfg.train.batch_size == 32 and cfg.model.unified_dim == 4096
    f.write_text("base: " + str(f) + "\n")
    with pytest.raises(ConfigError, match="includes itself"):
        load_config(f)
