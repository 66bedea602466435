"""Check a parallel layout against its device mesh and estimate memory per device, from the config
alone (no MindSpore, no hardware).

Semi-auto parallel and dry-run compilation need Ascend NPUs, so this is what can be checked before a
job is submitted: every rule below, each with a name that the error message carries.

Layout (the usual Megatron/mindformers one; ``zidong.parallel.strategy`` attaches it to the Cells
for the trainer's semi-auto-parallel step on Ascend): tensor parallelism inside every transformer block (q/k/v and the first feed-forward matmul split by
output columns, the attention output and the second feed-forward matmul by input rows, attention by
heads), vocabulary-sized output heads split by vocabulary, embedding tables split by vocabulary
unless ``vocab_emb_dp``; the batch split by data parallelism; pipeline stages as a contiguous
partition of the blocks in data-flow order (three encoders, fusion + objective heads, three
decoders), balanced by parameter count.

Memory model (an estimate, not a measurement): fp32 master weights, fp32 gradients and fp32 Adam
moments (``nn.AdamWeightDecay``); ``optimizer_shard`` divides the moments by data_parallel (weights
and gradients are counted unsharded, which is conservative). Activations are counted tensor by
tensor for every block kept for the backward pass (softmax in fp32 as the model computes it), for
as many micro-batches as the 1F1B pipeline schedule keeps in flight on a stage; ``recompute`` keeps
only each block's input plus one block's full activations. The frozen VQ tokenizer costs its
weights only. The budget is ``context.max_device_memory`` if set, else 90% of the NPU's memory
(the rest left to the runtime, HCCL buffers and fragmentation).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from zidong.config.schema import Config
from zidong.models import param_count as pc

GB = 1024 ** 3
NPU_MEMORY_GB = {"910A": 32, "910B": 64}
USABLE_FRACTION = 0.9

RULES = {
    "device_count": "data_parallel x model_parallel x pipeline_stage = nodes x devices_per_node",
    "cpu_data_parallel_only": "on CPU only data parallelism runs (no model/pipeline parallel, "
                              "no optimizer sharding: semi-auto parallel and ReduceScatter are "
                              "Ascend-only)",
    # hidden sizes then divide too: the schema already requires heads to divide hidden
    "heads_divisible": "every transformer's heads divide by model_parallel",
    "ffn_divisible": "every feed-forward size divides by model_parallel",
    "vocab_divisible": "every vocabulary (text, image codes) divides by model_parallel",
    "batch_divisible": "train.batch_size (per data-parallel rank) divides by micro_batch_num",
    "micro_batch_layout": "each micro-batch holds the fixed batch layout "
                          "(decoders x hide_per_batch + match_negatives samples)",
    "micro_batches_ge_stages": "micro_batch_num >= pipeline_stage when pipelining",
    "data_parallel_only": "train.grad_accum > 1 and train.fusion_batch < batch_size only in "
                          "data parallel (model/pipeline parallel and optimizer sharding run one "
                          "graph over the global batch, accumulating by micro_batch_num)",
    "layers_per_stage": "every pipeline stage gets at least one transformer block",
    "memory": "estimated memory per device fits the NPU",
}


@dataclass
class Unit:
    """One pipeline-partitionable piece: a transformer block (plus its component's extra
    parameters on the component's first block)."""
    component: str
    sharded: int        # parameters split by model_parallel
    replicated: int     # parameters every model-parallel rank holds
    act: int            # activation bytes of one micro-batch kept for backward (no recompute)
    act_recompute: int  # the same with recompute (the block input only)


@dataclass
class Stage:
    units: list = field(default_factory=list)
    in_flight: int = 1

    def params(self, mp: int) -> float:
        return sum(u.sharded / mp + u.replicated for u in self.units)


@dataclass
class Plan:
    cfg: Config
    violations: list  # (rule, message)
    stages: list
    frozen_params: int
    memory: dict      # variant -> bytes on the worst device; "configured" is what the job uses
    budget: float     # bytes; 0 on CPU (not checked)

    @property
    def ok(self) -> bool:
        return not self.violations


def _block_matrices(h: int, ffn: int, cross: int | None) -> int:
    n = 4 * h * h + 2 * h * ffn
    if cross is not None:
        n += 2 * h * h + 2 * cross * h
    return n


def _block_activations(b: int, s: int, h: int, f: int, a: int, mp: int, e: int, dropout: bool,
                       cross_len: int | None) -> int:
    """Bytes kept for backward by one pre-LN block over a (b, s, h) input; e = bytes per element
    of the compute dtype; tensors produced by a sharded matmul count 1/mp."""
    sbh, drop = s * b * h, (1 if dropout else 0)
    scores = a * s * s * (4 + 4 + e + drop)  # fp32 scores, fp32 softmax, probs cast, dropout mask
    attn = 2 * sbh * e + 3 * sbh * e / mp + scores / mp + sbh * e / mp + sbh * drop
    ffn = 2 * sbh * e + 2 * s * b * f * e / mp + sbh * drop
    total = attn + ffn
    if cross_len is not None:
        cscores = a * s * cross_len * (4 + 4 + e + drop)
        total += 2 * sbh * e + sbh * e / mp + 2 * b * cross_len * h * e / mp + cscores / mp \
            + sbh * e / mp + sbh * drop
    return int(total)


def objective_heads(cfg: Config) -> dict[str, tuple[int, int]]:
    """(sharded, replicated) parameters of the PretrainNet objective heads (zidong/objectives)."""
    m = cfg.model
    d = m.unified_dim
    ln = pc.layer_norm(d)
    return {"mlm": (d * m.text.vocab_size, ln + m.text.vocab_size),
            "mim": (d * m.image_tokenizer.codebook_size, ln + m.image_tokenizer.codebook_size),
            "msm": (0, ln + pc.linear(d, 4 * m.speech.n_mels)),
            "matching": (0, ln + pc.linear(d, d) + pc.linear(d, 5)),
            "contrastive": (0, 1),
            # built whatever its weight (a run may turn it on); its head is not sharded
            "ctc": (0, ln + pc.linear(d, m.text.vocab_size))}


def _units(cfg: Config) -> list[Unit]:
    m, par, mk = cfg.model, cfg.parallel, cfg.data.masking
    e = 2 if cfg.context.precision in ("fp16", "bf16") else 4
    mp, dropout = par.model_parallel, m.dropout > 0
    b = cfg.train.batch_size // max(par.micro_batch_num, 1)  # samples per micro-batch
    hb = min(mk.hide_per_batch, b) or 1                      # each decoder's slice of it
    enc_passes = 2 if cfg.train.clean_contrastive else 1
    counts = pc.count_parameters(m)
    heads = objective_heads(cfg)
    d, tv, k = m.unified_dim, m.text.vocab_size, m.image_tokenizer.codebook_size
    emb_dp = par.vocab_emb_dp
    # component: (transformer cfg, hidden, seq, cross_len, batch, passes, sharded extras,
    #             logits bytes of one micro-batch (fp32 logits + their gradient))
    comps = [
        ("text_encoder", m.text, m.text.hidden, 1 + m.text.max_len, None, b, enc_passes,
         0 if emb_dp else tv * m.text.hidden, 0),
        ("vision_encoder", m.vision, m.vision.hidden, 1 + m.vision_patches, None, b, enc_passes,
         0, 0),
        ("speech_encoder", m.speech, m.speech.hidden, 1 + m.speech_tokens, None, b, enc_passes,
         0, 0),
        ("fusion", m.fusion, d, m.fused_len, None, b, 1,
         heads["mlm"][0] + heads["mim"][0],
         8 * b * (mk.text_count * tv + m.image_tokens * k)),
        ("text_decoder", m.text_decoder, m.text_decoder.hidden, m.text.max_len, m.fused_len, hb, 1,
         m.text_decoder.hidden * tv * (1 if emb_dp else 2), 8 * hb * m.text.max_len * tv),
        ("image_decoder", m.image_decoder, m.image_decoder.hidden, m.image_tokens, m.fused_len, hb,
         1, m.image_decoder.hidden * k * (1 if emb_dp else 2) + (0 if emb_dp else
                                                                  m.image_decoder.hidden),
         8 * hb * m.image_tokens * k),
        ("speech_decoder", m.speech_decoder, m.speech_decoder.hidden,
         m.speech.max_frames // m.speech_decoder.reduction, m.fused_len, hb, 1, 0, 0),
    ]
    units = []
    for name, t, h, s, cross_len, batch, passes, extra_sharded, logits in comps:
        cross = d if cross_len is not None else None
        blk = pc.block(h, t.ffn_dim, cross)
        mat = _block_matrices(h, t.ffn_dim, cross)
        extras = counts[name] - t.layers * blk
        if name == "fusion":
            extras += sum(s_ + r for s_, r in heads.values())
        act = passes * _block_activations(batch, s, h, t.ffn_dim, t.heads, mp, e, dropout,
                                          cross_len)
        act_rc = passes * s * batch * h * e
        for i in range(t.layers):
            u = Unit(name, mat, blk - mat, act, act_rc)
            if i == 0:
                u.sharded += extra_sharded
                u.replicated += extras - extra_sharded
            if i == t.layers - 1:
                u.act += int(logits / mp)
                u.act_recompute += int(logits / mp)
            units.append(u)
    return units


def partition(weights: list[float], parts: int) -> list[int]:
    """Cut points of the contiguous partition of ``weights`` into ``parts`` non-empty pieces that
    minimises the heaviest piece (binary search on the bound, greedy fill)."""
    if parts >= len(weights):
        return list(range(1, len(weights) + 1))[:parts]

    def cuts_for(bound):
        cuts, acc = [], 0.0
        for i, w in enumerate(weights):
            if acc + w > bound and acc > 0:
                cuts.append(i)
                acc = 0.0
            acc += w
        return cuts

    lo, hi = max(weights), sum(weights)
    for _ in range(60):
        mid = (lo + hi) / 2
        if len(cuts_for(mid)) + 1 <= parts:
            hi = mid
        else:
            lo = mid
    cuts = cuts_for(hi)
    # use exactly `parts` pieces: split the largest pieces further if the bound left fewer
    bounds = [0] + cuts + [len(weights)]
    while len(bounds) - 1 < parts:
        sizes = [(sum(weights[bounds[j]:bounds[j + 1]]), j) for j in range(len(bounds) - 1)
                 if bounds[j + 1] - bounds[j] > 1]
        _, j = max(sizes)
        bounds.insert(j + 1, (bounds[j] + bounds[j + 1]) // 2)
    return bounds[1:]


def _stages(units: list[Unit], par) -> list[Stage]:
    pp = par.pipeline_stage
    if pp > len(units):
        return []
    ends = partition([u.sharded / par.model_parallel + u.replicated for u in units], pp)
    stages, start = [], 0
    for k, end in enumerate(ends):
        stages.append(Stage(units[start:end], in_flight=min(pp - k, par.micro_batch_num)))
        start = end
    return stages


def _stage_bytes(stage: Stage, par, frozen: float, opt_shard: bool, recompute: bool) -> float:
    p = stage.params(par.model_parallel)
    opt = 8 * p / (par.data_parallel if opt_shard else 1)
    if recompute:
        act = sum(u.act_recompute for u in stage.units) + max(u.act for u in stage.units)
    else:
        act = sum(u.act for u in stage.units)
    return 4 * frozen + 4 * p + 4 * p + opt + stage.in_flight * act


def _divisibility(cfg: Config) -> list[tuple[str, str]]:
    m, mp = cfg.model, cfg.parallel.model_parallel
    out = []
    stacks = {"model.text": (m.text.hidden, m.text.heads, m.text.ffn_dim),
              "model.vision": (m.vision.hidden, m.vision.heads, m.vision.ffn_dim),
              "model.speech": (m.speech.hidden, m.speech.heads, m.speech.ffn_dim),
              "model.fusion": (m.unified_dim, m.fusion.heads, m.fusion.ffn_dim),
              "model.text_decoder": (m.text_decoder.hidden, m.text_decoder.heads,
                                     m.text_decoder.ffn_dim),
              "model.image_decoder": (m.image_decoder.hidden, m.image_decoder.heads,
                                      m.image_decoder.ffn_dim),
              "model.speech_decoder": (m.speech_decoder.hidden, m.speech_decoder.heads,
                                       m.speech_decoder.ffn_dim),
              "model.image_tokenizer": (m.image_tokenizer.hidden, m.image_tokenizer.heads,
                                        m.image_tokenizer.ffn_dim)}
    if mp == 1:
        return out
    for key, (h, a, f) in stacks.items():
        if a % mp:
            out.append(("heads_divisible", f"{key}.heads = {a} is not divisible by "
                                           f"model_parallel {mp} (attention is split by heads)"))
        if f % mp:
            out.append(("ffn_divisible", f"{key}.ffn_dim = {f} is not divisible by "
                                         f"model_parallel {mp}"))
    for key, v in (("model.text.vocab_size", m.text.vocab_size),
                   ("model.image_tokenizer.codebook_size", m.image_tokenizer.codebook_size)):
        if v % mp:
            out.append(("vocab_divisible", f"{key} = {v} is not divisible by model_parallel {mp} "
                                           f"(output heads are split by vocabulary)"))
    return out


def make_plan(cfg: Config) -> Plan:
    par, mk = cfg.parallel, cfg.data.masking
    v = []
    product = par.data_parallel * par.model_parallel * par.pipeline_stage
    if product != par.device_num:
        v.append(("device_count", f"data_parallel {par.data_parallel} x model_parallel "
                                  f"{par.model_parallel} x pipeline_stage {par.pipeline_stage} = "
                                  f"{product}, but the mesh has nodes {par.nodes} x "
                                  f"devices_per_node {par.devices_per_node} = {par.device_num} "
                                  f"devices"))
    if cfg.context.device == "CPU" and (par.model_parallel > 1 or par.pipeline_stage > 1
                                        or par.optimizer_shard):
        v.append(("cpu_data_parallel_only", f"context.device CPU with model_parallel "
                                            f"{par.model_parallel}, pipeline_stage "
                                            f"{par.pipeline_stage}, optimizer_shard "
                                            f"{par.optimizer_shard}: only data_parallel runs on "
                                            f"CPU (MindSpore 2.10)"))
    v += _divisibility(cfg)
    bs, mb = cfg.train.batch_size, par.micro_batch_num
    if bs % mb:
        v.append(("batch_divisible", f"train.batch_size {bs} (per data-parallel rank) is not "
                                     f"divisible by micro_batch_num {mb}"))
    need = len(cfg.train.objectives.generated) * mk.hide_per_batch + mk.match_negatives
    if mb > 1 and bs // mb < need:
        v.append(("micro_batch_layout", f"a micro-batch of {bs // mb} samples (train.batch_size "
                                        f"{bs} / micro_batch_num {mb}) cannot hold the batch "
                                        f"layout of decoders x hide_per_batch + "
                                        f"match_negatives = {need}"))
    semi = par.model_parallel > 1 or par.pipeline_stage > 1 or par.optimizer_shard
    layout = (f"model_parallel {par.model_parallel}, pipeline_stage {par.pipeline_stage}, "
              f"optimizer_shard {par.optimizer_shard}")
    if semi and cfg.train.grad_accum > 1:
        v.append(("data_parallel_only", f"train.grad_accum {cfg.train.grad_accum} with {layout}: "
                                        f"set grad_accum 1 and use micro_batch_num"))
    if semi and cfg.train.fused_rows < bs:
        v.append(("data_parallel_only", f"train.fusion_batch {cfg.train.fusion_batch} with "
                                        f"{layout}: leave it 0"))
    if par.pipeline_stage > 1 and mb < par.pipeline_stage:
        v.append(("micro_batches_ge_stages", f"micro_batch_num {mb} < pipeline_stage "
                                             f"{par.pipeline_stage}: stages would idle"))
    units = _units(cfg)
    if par.pipeline_stage > len(units):
        v.append(("layers_per_stage", f"pipeline_stage {par.pipeline_stage} > the "
                                      f"{len(units)} transformer blocks of the model"))
    stages = _stages(units, par)
    frozen = pc.image_tokenizer(cfg.model)
    memory, budget = {}, 0.0
    if stages:
        for name, shard, rc in (("plain", False, False), ("optimizer_shard", True, False),
                                ("recompute", False, True), ("optimizer_shard+recompute", True, True)):
            memory[name] = max(_stage_bytes(s, par, frozen if i == 0 else 0, shard, rc)
                               for i, s in enumerate(stages))
        memory["configured"] = max(_stage_bytes(s, par, frozen if i == 0 else 0,
                                                par.optimizer_shard, par.recompute)
                                   for i, s in enumerate(stages))
        if cfg.context.device == "Ascend":
            mdm = cfg.context.max_device_memory
            budget = int(mdm[:-2]) * GB if mdm else USABLE_FRACTION * NPU_MEMORY_GB[par.npu] * GB
            if memory["configured"] > budget:
                v.append(("memory", f"estimated {memory['configured'] / GB:.1f} GB per device "
                                    f"exceeds the budget of {budget / GB:.1f} GB on Ascend "
                                    f"{par.npu} (optimizer_shard {par.optimizer_shard}, recompute "
                                    f"{par.recompute})"))
    return Plan(cfg, v, stages, frozen, memory, budget)


def violation_text(plan: Plan) -> str:
    return "\n".join(f"rule {rule}: {msg}" for rule, msg in plan.violations)


def plan_text(plan: Plan) -> str:
    cfg, par = plan.cfg, plan.cfg.parallel
    lines = [f"parallel: {par.nodes} node(s) x {par.devices_per_node} device(s) = "
             f"{par.device_num}; data_parallel {par.data_parallel} x model_parallel "
             f"{par.model_parallel} x pipeline_stage {par.pipeline_stage}; micro_batch_num "
             f"{par.micro_batch_num}; optimizer_shard {par.optimizer_shard}; recompute "
             f"{par.recompute}; vocab_emb_dp {par.vocab_emb_dp}",
             f"batch: {cfg.train.batch_size} per data-parallel rank, global "
             f"{cfg.train.batch_size * par.data_parallel * cfg.train.grad_accum} per optimizer step"]
    if plan.stages and par.pipeline_stage > 1:
        for k, s in enumerate(plan.stages):
            comps = []
            for u in s.units:
                if not comps or comps[-1][0] != u.component:
                    comps.append([u.component, 0])
                comps[-1][1] += 1
            lines.append(f"  stage {k}: {s.params(par.model_parallel) / 1e9:.2f}B params per device, "
                         f"{s.in_flight} micro-batch(es) in flight: "
                         + ", ".join(f"{c} x{n}" for c, n in comps))
    if plan.memory:
        where = f"Ascend {par.npu}, budget {plan.budget / GB:.1f} GB" if plan.budget else \
            "not checked on CPU"
        lines.append(f"memory per device (estimate, worst stage; {where}):")
        for name in ("plain", "optimizer_shard", "recompute", "optimizer_shard+recompute"):
            lines.append(f"  {name:<28}{plan.memory[name] / GB:>9.2f} GB")
        lines.append(f"  {'configured':<28}{plan.memory['configured'] / GB:>9.2f} GB")
    lines.append("layout: OK" if plan.ok else "layout: INVALID\n" + violation_text(plan))
    return "\n".join(lines)
