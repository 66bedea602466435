"""tools/profile_step.py: operators are told apart by direction, and times add up per step."""
from tests.tools import load_tool


def test_scopes_give_the_direction():
    direction_of = load_tool("profile_step").direction_of
    net = "Default/net-PretrainNet/model-ZidongModel"
    assert direction_of(f"Gradients/{net}/fusion-Fusion/MatMul-op3") == "backward"
    assert direction_of(f"{net}/speech_encoder-SpeechEncoder/Erf-op1") == "forward"
    assert direction_of("Default/optimizer-AdamWeightDecay/Adam-op1") == "optimizer"
    assert direction_of("Expand/_SoftmaxBackward/ReduceSum-op9") == "forward"


def test_times_and_calls_are_per_step(tmp_path):
    f = tmp_path / "cpu_op_execute_timestamp_0.txt"
    net = "Default/net-PretrainNet/model-ZidongModel"
    f.write_text(f"{net}/fusion-Fusion/MatMul-op1;HostCpuOps;1,2.0,0 5,4.0,0 \n"
                 f"Gradients/{net}/fusion-Fusion/MatMul-op2;HostCpuOps;2,6.0,0 6,6.0,0 \n"
                 "Default/optimizer-AdamWeightDecay/AdamWeightDecay-op0;HostCpuOps;3,1.0,0 "
                 "7,1.0,0 \n"
                 f"{net}/GraphKernel_Add_Mul_fusion-op4;HostCpuOps;4,0.5,0 8,1.5,0 \n"
                 "malformed line\n")
    r = load_tool("profile_step").aggregate(f, steps=2)
    assert r["ops_ms_per_step"] == 11.0
    assert r["op_calls_per_step"] == 4.0
    assert r["direction"] == {"backward": 6.0, "forward": 4.0, "optimizer": 1.0}
    assert r["op_type"] == {"MatMul": 9.0, "GraphKernel_Add_Mul_fusion": 1.0,
                            "AdamWeightDecay": 1.0}
