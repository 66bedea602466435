"""The semi-auto-parallel layout on the built Cells (zidong.parallel.strategy / semi_auto): what can
be checked without Ascend hardware. Semi-auto parallel itself does not compile on the CPU."""
import numpy as np
import mindspore as ms
import pytest
from mindspore import Tensor, nn

from zidong.config import load_config
from zidong.data.pipeline import DataPipeline
from zidong.data.tokenizer import tokenizer_for
from zidong.models import create_model
from zidong.models.layers import Attention, Block, FeedForward, Linear, TransformerStack
from zidong.parallel.plan import make_plan
from zidong.parallel.semi_auto import StackedLosses, needs_semi_auto, pipeline_net, wrap_step
from zidong.parallel.strategy import VOCAB_HEADS, apply_recompute, attach_strategies, stage_config
from zidong.train.pretrain_net import PretrainNet

MESH = ["context.device=Ascend", "parallel.devices_per_node=8", "parallel.data_parallel=2",
        "parallel.model_parallel=2", "parallel.pipeline_stage=2", "parallel.micro_batch_num=2",
        "train.batch_size=16"]
COL, ROW, DATA = ((2, 1), (2, 1)), ((2, 2), (1, 2)), ((2, 1), (1, 1))


def _net(preset="tiny", overrides=MESH):
    cfg = load_config(preset, overrides)
    return cfg, PretrainNet(create_model(cfg.model), cfg)


def test_every_linear_gets_its_megatron_split():
    cfg, net = _net()
    got = attach_strategies(net, cfg)
    linears = {n for n, c in net.cells_and_names() if isinstance(c, Linear)}
    assert set(got) == linears  # none left without a strategy
    attn = ffn = 0
    for name, cell in net.cells_and_names():
        frozen = name.startswith("model.image_tokenizer")
        if isinstance(cell, Attention):
            attn += 1
            for part in ("q", "k", "v"):
                assert got[f"{name}.{part}"] == (DATA if frozen else COL), name
            assert got[f"{name}.o"] == (DATA if frozen else ROW), name
            if not frozen:
                assert cell.qk.in_strategy == ((2, 2, 1, 1), (2, 2, 1, 1))  # split by heads
                assert cell.softmax.in_strategy == ((2, 2, 1, 1),)
        if isinstance(cell, FeedForward):
            ffn += 1
            assert (got[f"{name}.fc1"], got[f"{name}.fc2"]) == ((DATA, DATA) if frozen
                                                                else (COL, ROW)), name
    # 14 blocks with self-attention, 6 decoder blocks with cross-attention, 2 frozen VQ blocks
    assert attn == 14 + 6 + 2 and ffn == 14 + 2
    heads = [n for n in got if n.endswith(VOCAB_HEADS)]
    assert len(heads) == 4 and all(got[n] == COL for n in heads)
    for name in ("model.vision_encoder.patch_embed", "matching.head.out",
                 "model.speech_decoder.mel_out"):
        assert got[name] == DATA
    assert net.model.text_encoder.gather.in_strategy == ((1, 1), (2, 1))  # vocab_emb_dp


def test_an_embedding_table_is_split_by_rows_without_vocab_emb_dp():
    cfg, net = _net(overrides=MESH + ["parallel.vocab_emb_dp=false"])
    attach_strategies(net, cfg)
    for cell in (net.model.text_encoder, net.model.text_decoder, net.model.image_decoder):
        assert cell.gather.in_strategy == ((2, 1), (2, 1))


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_every_split_divides_the_tensor_it_splits(preset):
    """The plan's divisibility rules pass, so every sliced weight dimension must divide."""
    overrides = ["context.device=Ascend", "parallel.devices_per_node=4",
                 "parallel.data_parallel=2", "parallel.model_parallel=2",
                 "parallel.vocab_emb_dp=false", "train.fusion_batch=0"]
    cfg, net = _net(preset, overrides)
    assert make_plan(cfg).ok, make_plan(cfg).violations
    attach_strategies(net, cfg)
    checked = 0
    for name, cell in net.cells_and_names():
        if isinstance(cell, Linear):
            split = cell.matmul.in_strategy[1]
            assert all(d % s == 0 for d, s in zip(cell.weight.shape, split)), name
            checked += 1
        if isinstance(cell, Attention) and not name.startswith("model.image_tokenizer"):
            assert cell.heads % cell.qk.in_strategy[0][1] == 0, name
    table = net.model.text_encoder.tok
    assert table.shape[0] % net.model.text_encoder.gather.in_strategy[0][0] == 0
    assert checked > 100


def test_pipeline_stages_follow_the_plan_in_data_flow_order():
    cfg, net = _net()
    plan = make_plan(cfg)
    assert plan.ok, plan.violations
    stages = stage_config(cfg, plan)
    blocks = [n for n, c in net.cells_and_names()
              if isinstance(c, Block) and not n.startswith("model.image_tokenizer")]
    assert sorted(stages) == sorted(blocks)
    assert [len(s.units) for s in plan.stages] == [list(stages.values()).count(k) for k in (0, 1)]
    order = ["text_encoder", "vision_encoder", "speech_encoder", "fusion", "text_decoder",
             "image_decoder", "speech_decoder"]
    flow = sorted(stages, key=lambda n: (order.index(n.split(".")[1]), int(n.split(".")[-1])))
    assert [stages[n] for n in flow] == sorted(stages.values())  # never back to an earlier stage
    piped = pipeline_net(net, cfg)  # refuses any name that is not a Cell of the network
    for name, cell in piped.network.cells_and_names():
        if name.removeprefix("net.") in stages:
            assert cell.pipeline_stage == stages[name.removeprefix("net.")]


class _TwoObjectives(nn.Cell):
    """PretrainNet's calling convention in small: (batch..., weights) -> (total, *losses)."""

    def __init__(self):
        super().__init__()
        self.w = ms.Parameter(Tensor(np.array([1.0, 2.0], np.float32)), name="w")

    def construct(self, x, weights):
        a = (x * self.w[0]).mean()
        b = (x * self.w[1]).sum()
        return weights[0] * a + weights[1] * b, a, b


def _summed(cell):
    def total(*inputs):  # everything the pipeline returns, so a leak into the losses would show
        return cell(*inputs).sum()
    return total


def test_the_pipeline_wrapper_gives_the_micro_batch_mean_and_trains_only_the_total():
    x = Tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    weights = np.array([0.5, 3.0], np.float32)
    net = _TwoObjectives()
    want = np.array([float(o.asnumpy()) for o in net(x, Tensor(weights))]) / 2
    wrapped = StackedLosses(net, 2)
    v = wrapped(x, Tensor(np.tile(weights, (4, 1))))  # the weights once per row
    np.testing.assert_allclose(v.asnumpy(), want, rtol=1e-6)
    grad = ms.grad(_summed(wrapped), None, [net.w])(x, Tensor(np.tile(weights, (4, 1))))
    # only the total's gradient: d/dw of (0.5 * mean(x * w0) + 3 * sum(x * w1)) / 2
    np.testing.assert_allclose(grad[0].asnumpy(), [0.5 * 5.5 / 2, 3.0 * 66 / 2], rtol=1e-6)


def _projected_loss(stack, target):
    def loss(x, bias):  # a closure: graph mode takes no default arguments
        return (stack(x, bias) * target).sum()  # not invariant under the final LayerNorm
    return loss


def test_recompute_covers_every_trainable_block_and_keeps_the_gradients():
    _, net = _net("tiny", [])
    assert apply_recompute(net) == 14  # not the frozen VQ tokenizer's two
    x = Tensor(np.random.default_rng(0).normal(size=(4, 9, 64)).astype(np.float32))
    bias = Tensor(np.zeros((4, 1, 1, 9), np.float32))
    target = Tensor(np.random.default_rng(1).normal(size=(4, 9, 64)).astype(np.float32))
    grads = []
    for recompute in (False, True):
        ms.set_seed(0)
        stack = TransformerStack(64, 2, 4, 128)
        if recompute:
            for block in stack.blocks:
                block.recompute()
        fn = ms.jit(ms.value_and_grad(_projected_loss(stack, target), 0, stack.trainable_params()))
        value, (gx, gw) = fn(x, bias)
        grads.append([value.asnumpy(), gx.asnumpy()] + [g.asnumpy() for g in gw])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.abs(grads[0][1]).max() > 1e-4


def test_the_semi_auto_step_is_set_up_as_the_config_says(tmp_path):
    cfg = load_config("tiny", MESH + ["parallel.optimizer_shard=true"])
    assert needs_semi_auto(cfg) and not needs_semi_auto(load_config("tiny"))
    step = wrap_step(lambda x: x, cfg, tmp_path)
    assert step.get_pipeline_stages() == 2


def test_the_layout_repeats_in_every_micro_batch(mini_corpus):
    cfg = load_config("tiny", ["data.masking.hide_per_batch=1", "data.masking.match_negatives=1"])
    tok = tokenizer_for(mini_corpus / "train.jsonl", cfg.model.text.vocab_size)
    whole = DataPipeline(mini_corpus / "train.jsonl", cfg, tok, 8)
    micro = DataPipeline(mini_corpus / "train.jsonl", cfg, tok, 8, layout_rows=4)
    order = whole.order(0)[:8].tolist()
    by_pos = lambda p: [p.hide_slots(order).get(i) for i in order]  # noqa: E731
    assert by_pos(whole) == [0, 1, 2] + [None] * 5
    assert by_pos(micro) == [0, 1, 2, None] * 2
    with pytest.raises(ValueError, match="not a whole number of 3-row micro-batches"):
        DataPipeline(mini_corpus / "train.jsonl", cfg, tok, 8, layout_rows=3)
