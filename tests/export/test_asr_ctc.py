"""Speech recognition with joint CTC/attention decoding reads the run's ctc head, on the
checkpoint's engine and on the MINDIR runtime alike; a run that did not train the head decodes
with the text decoder alone (its head is untrained, so it is neither used nor exported)."""
import numpy as np
import pytest
from mindspore import Parameter

BLANK_BIAS = 12.0   # every speech token says blank with p ~ 0.997: "nothing was said"


@pytest.fixture(scope="module")
def ctc_run(tiny_run, tmp_path_factory):
    """The tiny run as if it had trained ctc (its config says so), with a head that hears
    nothing: zero weights, the blank's bias far above every other token's."""
    from zidong.train.checkpoint import checkpoints, load_state, save_state
    params, meta, blobs = load_state(checkpoints(tiny_run[0])[-1])
    meta["config"]["train"]["objectives"]["ctc"] = 1.0
    for name in ("ctc.head.out.weight", "ctc.head.out.bias"):
        data = np.zeros(params[name].shape, np.float32)
        if name.endswith("bias"):
            data[0] = BLANK_BIAS
        params[name] = Parameter(data)
    run = tmp_path_factory.mktemp("ctc_run")
    # saved under the checkpoint's own names (a loaded Parameter's name need not be its key)
    save_state(run / "step_0000006.safetensors",
               [Parameter(v.asnumpy(), name=k) for k, v in params.items()], meta, blobs)
    return run


@pytest.fixture(scope="module")
def both(ctc_run, tmp_path_factory):
    from zidong.export.exporter import export_run
    from zidong.export.infer import MindirEngine
    from zidong.tasks.engine import TaskEngine
    out = tmp_path_factory.mktemp("ctc_mindir")
    info = export_run(ctc_run, out, ["asr"])
    return TaskEngine(ctc_run, batch_size=4), MindirEngine(out, batch_size=4), info


def asr(runner, batch, weight):
    runner.ctc_weight = weight
    return runner.text(batch, "asr", beam_size=2)


def test_the_ctc_head_is_read_and_exported(both, mini_corpus):
    from zidong.tasks.spec import ASR_CTC_WEIGHT
    engine, runtime, info = both
    assert "ctc" in info["graphs"] and "ctc" not in info["not_exported"]
    assert engine.asr_ctc_weight() == runtime.asr_ctc_weight() == ASR_CTC_WEIGHT
    batch = next(iter(engine.batches(mini_corpus / "test.jsonl")))
    alone = asr(engine, batch, 0.0)
    assert any(alone), "the text decoder alone must say something for this test to mean much"
    assert asr(runtime, batch, 0.0) == alone
    # a head sure that nothing was said outweighs the decoder when it weighs 0.95
    assert asr(engine, batch, 0.95) == asr(runtime, batch, 0.95) == [""] * len(alone)
    # a light weight: the two paths still agree hypothesis for hypothesis
    assert asr(engine, batch, 0.05) == asr(runtime, batch, 0.05)


def test_the_greedy_ctc_tool_reads_the_head(ctc_run, mini_corpus, capsys):
    import json
    from tests.tools import load_tool
    tool = load_tool("ctc_greedy_cer")
    assert tool.greedy(np.log(np.array([[.1, .9], [.1, .9], [.9, .1], [.1, .9]])), 0) == [1, 1]
    assert tool.main(["--ckpt", str(ctc_run), "--data", str(mini_corpus / "test.jsonl"),
                      "--limit", "4"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # a head that hears nothing deletes every character
    assert out["n"] == 4 and all(v == 1.0 for k, v in out.items() if k.endswith(".cer"))
