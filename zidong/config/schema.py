"""Typed configuration: every section of a zidong YAML file is one dataclass here.

Sizes live only here (and in the YAML presets); Cells read them from these objects, so there is one
source of truth. Each class validates itself in ``check`` and raises ConfigError naming the key and
what would be allowed; the loader adds the file name.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field
from typing import Literal


class ConfigError(ValueError):
    """A config file or override that cannot describe a valid run."""


def _require(ok: bool, key: str, msg: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {msg}")


def _positive(obj, prefix: str, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        _require(v > 0, f"{prefix}.{n}", f"must be > 0, got {v}")


def _heads_divide(prefix: str, hidden: int, heads: int) -> None:
    _require(hidden % heads == 0, f"{prefix}.heads",
             f"hidden size {hidden} is not divisible by heads={heads}; allowed heads: "
             f"{[h for h in range(1, min(hidden, 64) + 1) if hidden % h == 0]}")


@dataclass
class TransformerConfig:
    """Width/depth of one transformer stack."""
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    ffn_dim: int = 512

    def check(self, prefix: str) -> None:
        _positive(self, prefix, "hidden", "layers", "heads", "ffn_dim")
        _heads_divide(prefix, self.hidden, self.heads)


POOLS = ("max", "mean", "cls")
STEMS = ("linear", "hmlp", "conv", "overlap")  # vision patch embeddings (zidong/models/patch_embed.py)
CONV_NORMS = ("batch", "layer")  # the conv stem's normalisation (zidong/models/patch_embed.py)
POSITIONS = ("learned", "sincos")  # vision position tables (zidong/models/vision_encoder.py)


@dataclass
class EncoderConfig(TransformerConfig):
    """A modality encoder: a transformer stack plus how its tokens pool into the one embedding
    used by retrieval and the contrastive objective (max / mean over real tokens, or the CLS).
    Max by default: a caption's colour word, a scene's small object on a busy background, a spoken
    word are a few tokens of many; a mean dilutes them and an untrained CLS ignores them
    (measured in docs/architecture.md)."""
    pool: str = "max"

    def check(self, prefix: str) -> None:
        super().check(prefix)
        _require(self.pool in POOLS, f"{prefix}.pool", f"must be one of {POOLS}, got {self.pool!r}")


@dataclass
class TextEncoderConfig(EncoderConfig):
    vocab_size: int = 4000
    max_len: int = 32  # subword tokens, without the encoder's CLS

    def check(self, prefix: str) -> None:
        super().check(prefix)
        _require(self.vocab_size >= 8, f"{prefix}.vocab_size",
                 f"must be >= 8 (special tokens need room), got {self.vocab_size}")
        _positive(self, prefix, "max_len")


def parse_conv_layers(spec: str) -> list[tuple[int, ...]]:
    """``model.vision.conv_layers`` "32/2,64/2" -> [(32, 2), (64, 2)] (ValueError if not numbers)."""
    return [tuple(int(v) for v in item.split("/")) for item in spec.split(",")]


@dataclass
class VisionEncoderConfig(EncoderConfig):
    image_size: int = 64
    patch_size: int = 8
    channels: int = 3
    stem: str = "linear"   # linear | hmlp | conv | overlap (zidong/models/patch_embed.py)
    pos_embed: str = "learned"  # learned | sincos: a fixed 2-D sine-cosine table (MAE's)
    # the conv stem's 3x3 convolutions as channels/stride, e.g. "32/2,64/2,128/2,192/1" (a
    # ViT-hybrid's CNN trunk); empty: log2(patch_size) stride-2 ones (patch_embed.conv_layers)
    conv_layers: str = ""
    # the conv stem's normalisation: batch (BatchNorm before each GELU) | layer (a LayerNorm over
    # the channels after it). Batch, because the probe learnt twice as much with it
    # (patch_embed.py, docs/architecture.md "Shapes, asked directly")
    conv_norm: str = "batch"

    def check(self, prefix: str) -> None:
        super().check(prefix)
        _positive(self, prefix, "image_size", "patch_size")
        _require(self.pos_embed in POSITIONS, f"{prefix}.pos_embed",
                 f"must be one of {POSITIONS}, got {self.pos_embed!r}")
        _require(self.pos_embed != "sincos" or self.hidden % 4 == 0, f"{prefix}.pos_embed",
                 f"sincos needs hidden divisible by 4 (sin and cos for y and x), got {self.hidden}")
        _require(self.stem in STEMS, f"{prefix}.stem", f"must be one of {STEMS}, got {self.stem!r}")
        _require(self.stem != "hmlp" or self.patch_size % 4 == 0, f"{prefix}.patch_size",
                 f"the hmlp stem needs a multiple of 4, got {self.patch_size}")
        _require(self.stem != "conv" or bool(self.conv_layers)
                 or (self.patch_size >= 2 and not self.patch_size & (self.patch_size - 1)),
                 f"{prefix}.patch_size", f"the conv stem needs a power of 2, got {self.patch_size}")
        if self.conv_layers:
            self._check_conv_layers(prefix)
        _require(self.conv_norm in CONV_NORMS, f"{prefix}.conv_norm",
                 f"must be one of {CONV_NORMS}, got {self.conv_norm!r}")
        _require(self.channels in (1, 3), f"{prefix}.channels", f"must be 1 or 3, got {self.channels}")
        _require(self.stem != "overlap" or self.patch_size % 2 == 0, f"{prefix}.patch_size",
                 f"the overlap stem needs an even size, got {self.patch_size}")
        _require(self.image_size % self.patch_size == 0, f"{prefix}.patch_size",
                 f"image_size {self.image_size} is not divisible by patch_size {self.patch_size}")

    def _check_conv_layers(self, prefix: str) -> None:
        key = f"{prefix}.conv_layers"
        _require(self.stem == "conv", key, f"only the conv stem reads it (stem is {self.stem!r})")
        try:
            layers = parse_conv_layers(self.conv_layers)
        except ValueError:
            layers = []
        _require(bool(layers) and all(len(x) == 2 and x[0] > 0 and x[1] in (1, 2) for x in layers),
                 key, f"expected channels/stride items (stride 1 or 2), e.g. \"32/2,64/2,128/2\", "
                 f"got {self.conv_layers!r}")
        _require(math.prod(s for _, s in layers) == self.patch_size, key,
                 f"the strides must multiply to patch_size {self.patch_size}, got {self.conv_layers!r}")


@dataclass
class SpeechEncoderConfig(EncoderConfig):
    """Log-mel front end and the speech transformer; the front-end numbers are shared with the
    data pipeline and the vocoder so that mel frames mean the same thing everywhere."""
    sample_rate: int = 16000
    n_mels: int = 80
    n_fft: int = 1024
    hop_length: int = 320  # 20 ms at 16 kHz: half the tokens of a 10 ms hop for the same speech
    win_length: int = 640
    max_frames: int = 192  # mel frames before the x4 subsampling

    def check(self, prefix: str) -> None:
        super().check(prefix)
        _positive(self, prefix, "sample_rate", "n_mels", "n_fft", "hop_length", "win_length",
                  "max_frames")
        _require(self.max_frames % 4 == 0, f"{prefix}.max_frames",
                 f"must be a multiple of 4 (x4 subsampling), got {self.max_frames}")
        _require(self.win_length <= self.n_fft, f"{prefix}.win_length",
                 f"must be <= n_fft ({self.n_fft}), got {self.win_length}")


@dataclass
class FusionConfig:
    """Fusion transformer; its width is model.unified_dim (the unified semantic space)."""
    layers: int = 2
    heads: int = 4
    ffn_dim: int = 512

    def check(self, prefix: str, hidden: int) -> None:
        _positive(self, prefix, "layers", "heads", "ffn_dim")
        _heads_divide(prefix, hidden, self.heads)


@dataclass
class ImageTokenizerConfig(TransformerConfig):
    """ViT-style VQ-VAE: patches -> transformer -> nearest code (EMA codebook) -> transformer -> patches."""
    patch_size: int = 8
    codebook_size: int = 512
    code_dim: int = 32
    ema_decay: float = 0.99
    commitment: float = 0.25

    def check(self, prefix: str) -> None:
        super().check(prefix)
        _positive(self, prefix, "patch_size", "codebook_size", "code_dim", "commitment")
        _require(0.0 < self.ema_decay < 1.0, f"{prefix}.ema_decay",
                 f"must be in (0, 1), got {self.ema_decay}")


@dataclass
class SpeechDecoderConfig(TransformerConfig):
    reduction: int = 4  # mel frames predicted per decoder query
    # width (a fraction of the utterance) of a diagonal prior on the cross-attention to the text
    # tokens: frame t of T favours the tokens near t/T of the text; 0 = no prior
    align_prior: float = 0.0
    # where each text token lies in time: "uniform" (the prior's equal shares), "learned" (a
    # duration per token read off the memory, trained through the prior alone; needs
    # align_prior) or "aligned" (no prior: each frame attends to its own token, placed by word
    # times from `zidong data align` in training and by a duration predictor trained on them)
    align_durations: str = "uniform"
    # aligned mode: a local path (a two-layer MLP of each query's own token vector and its
    # offset) into the query's input and straight to its frames; false = the cross-attention
    # alone, as in the runs before it (docs/results.md)
    expand_tokens: bool = True

    def check(self, prefix: str) -> None:
        super().check(prefix)
        _positive(self, prefix, "reduction")
        _require(self.align_prior >= 0.0, f"{prefix}.align_prior",
                 f"must be 0 (off) or a positive width, got {self.align_prior}")
        _require(self.align_durations in ("uniform", "learned", "aligned"),
                 f"{prefix}.align_durations",
                 f"must be 'uniform', 'learned' or 'aligned', got {self.align_durations!r}")
        _require(self.align_durations != "learned" or self.align_prior > 0,
                 f"{prefix}.align_durations",
                 "'learned' places the alignment prior's centres: set align_prior > 0 too")
        _require(self.align_durations != "aligned" or self.align_prior == 0,
                 f"{prefix}.align_durations",
                 "'aligned' replaces the soft prior by each frame's own token: set align_prior 0")


@dataclass
class ModelConfig:
    unified_dim: int = 128
    dropout: float = 0.0
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    vision: VisionEncoderConfig = field(default_factory=VisionEncoderConfig)
    speech: SpeechEncoderConfig = field(default_factory=SpeechEncoderConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    text_decoder: TransformerConfig = field(default_factory=TransformerConfig)
    image_tokenizer: ImageTokenizerConfig = field(default_factory=ImageTokenizerConfig)
    image_decoder: TransformerConfig = field(default_factory=TransformerConfig)
    speech_decoder: SpeechDecoderConfig = field(default_factory=SpeechDecoderConfig)

    def check(self, prefix: str = "model") -> None:
        _positive(self, prefix, "unified_dim")
        _require(0.0 <= self.dropout < 1.0, f"{prefix}.dropout", f"must be in [0, 1), got {self.dropout}")
        for name in ("text", "vision", "speech", "text_decoder", "image_tokenizer", "image_decoder",
                     "speech_decoder"):
            getattr(self, name).check(f"{prefix}.{name}")
        self.fusion.check(f"{prefix}.fusion", self.unified_dim)
        _require(self.vision.image_size % self.image_tokenizer.patch_size == 0,
                 f"{prefix}.image_tokenizer.patch_size",
                 f"model.vision.image_size {self.vision.image_size} is not divisible by "
                 f"{self.image_tokenizer.patch_size}")
        _require(self.speech.max_frames % self.speech_decoder.reduction == 0,
                 f"{prefix}.speech_decoder.reduction",
                 f"model.speech.max_frames {self.speech.max_frames} is not divisible by "
                 f"{self.speech_decoder.reduction}")

    # Derived sizes, computed in one place.
    @property
    def image_grid(self) -> int:
        return self.vision.image_size // self.image_tokenizer.patch_size

    @property
    def image_tokens(self) -> int:
        return self.image_grid ** 2

    @property
    def vision_patches(self) -> int:
        return (self.vision.image_size // self.vision.patch_size) ** 2

    @property
    def speech_tokens(self) -> int:
        return self.speech.max_frames // 4

    @property
    def fused_len(self) -> int:
        """[CLS; text CLS+tokens; image CLS+patches; speech CLS+frames]"""
        return 1 + (1 + self.text.max_len) + (1 + self.vision_patches) + (1 + self.speech_tokens)


# oneDNN's ONEDNN_MAX_CPU_ISA values this project has a use for ("" = no cap)
CPU_ISAS = ("", "avx2", "avx512_core")


@dataclass
class ContextConfig:
    device: Literal["CPU", "Ascend"] = "CPU"
    device_id: int = 0
    mode: Literal["graph", "pynative"] = "graph"
    precision: Literal["fp32", "fp16", "bf16"] = "fp32"
    amp_level: Literal["O0", "O1", "O2"] = "O0"
    seed: int = 0
    compile_cache: str = ""  # directory for MindSpore's compile cache; "" disables it
    max_device_memory: str = ""  # Ascend memory pool cap, e.g. "58GB"; "" = the device's memory
    # CPU: the newest instruction set oneDNN may use ("" = all the CPU has). On AVX-512 CPUs,
    # MindSpore 2.10's oneDNN runs nn.Conv2d ~20x slower than with "avx2", but the vision
    # encoder's matmuls 16-28% faster (tools/time_vision_stem.py): the convolutional image
    # scorer's commands set "avx2", training keeps "" (docs/results.md, the scorer section)
    cpu_isa: str = ""

    def check(self, prefix: str = "context") -> None:
        _require(self.cpu_isa in CPU_ISAS, f"{prefix}.cpu_isa",
                 f"expected one of {sorted(CPU_ISAS)}, got {self.cpu_isa!r}")
        _require(self.device_id >= 0, f"{prefix}.device_id", f"must be >= 0, got {self.device_id}")
        _require(self.max_device_memory == "" or (self.max_device_memory.endswith("GB") and
                                                  self.max_device_memory[:-2].isdigit()),
                 f"{prefix}.max_device_memory",
                 f"must look like '58GB' (or be empty), got {self.max_device_memory!r}")
        if self.device == "CPU":
            # Measured on MindSpore 2.10: bf16 MatMul has no CPU kernel, and O2 needs the
            # Ascend loss-scale path; fail here rather than mid-compile.
            _require(self.precision != "bf16", f"{prefix}.precision",
                     "bf16 is Ascend-only (no CPU MatMul kernel); use fp32 or fp16 on CPU")
            _require(self.amp_level != "O2", f"{prefix}.amp_level",
                     "O2 is Ascend-only here; use O0 (or O1) on CPU")
        _require(not (self.precision == "fp32" and self.amp_level != "O0"), f"{prefix}.amp_level",
                 f"amp_level {self.amp_level} needs precision fp16 or bf16, got fp32")


@dataclass
class ParallelConfig:
    """Shaped like mindformers' parallel_config, plus the device mesh it runs on.

    ``train.batch_size`` is the batch of one data-parallel rank; the global batch is
    batch_size x data_parallel x train.grad_accum. Whether a layout fits the mesh and the NPU's
    memory is checked by ``zidong.parallel.plan`` (``zidong plan``), rule by rule; this class only
    rejects values that mean nothing.
    """
    data_parallel: int = 1
    model_parallel: int = 1
    pipeline_stage: int = 1
    micro_batch_num: int = 1
    optimizer_shard: bool = False
    recompute: bool = False
    vocab_emb_dp: bool = True
    nodes: int = 1               # servers in the job
    devices_per_node: int = 1    # NPUs (or CPU workers) used per server; 8 on an Ascend 910 server
    npu: Literal["910A", "910B"] = "910B"  # 32 GB / 64 GB of device memory (Ascend only)

    @property
    def device_num(self) -> int:
        return self.nodes * self.devices_per_node

    def check(self, prefix: str = "parallel") -> None:
        _positive(self, prefix, "data_parallel", "model_parallel", "pipeline_stage", "micro_batch_num",
                  "nodes", "devices_per_node")


@dataclass
class MaskingConfig:
    """Fixed mask counts (static shapes for graph mode); masks are drawn from (seed, epoch, sample)."""
    text_count: int = 4          # masked subword positions per sample (fewer if the text is shorter)
    image_count: int = 24        # masked vision patches per sample
    speech_spans: int = 4        # masked spans of mel frames per sample
    speech_span: int = 8         # frames per span
    # Whole-modality masking with fixed counts: in every batch the first ``hide_per_batch``
    # samples hide their text, the next as many their image, the next their speech (when the
    # sample has it and one more modality), so each decoder trains on a fixed slice of the batch.
    hide_per_batch: int = 2
    single_source_prob: float = 0.5  # a slot sample with 3 modalities also hides one of the others
    match_negatives: int = 2     # samples per batch (after the hide slots) with a swapped modality
    # Fraction of the text decoder's teacher-forced input words replaced by MASK (word dropout,
    # Bowman et al. 2016). Why: the corpus's templates let a decoder reach its loss floor from
    # the previous words alone, never reading its memory (docs/results.md); a decoder that cannot
    # trust them must. 0 draws nothing, so runs without it keep their random streams.
    decoder_dropout: float = 0.0

    def check(self, prefix: str, model: "ModelConfig") -> None:
        for name in ("text_count", "image_count", "speech_spans", "speech_span", "hide_per_batch",
                     "match_negatives"):
            v = getattr(self, name)
            _require(v >= 0, f"{prefix}.{name}", f"must be >= 0, got {v}")
        _require(self.text_count <= model.text.max_len, f"{prefix}.text_count",
                 f"must be <= model.text.max_len ({model.text.max_len}), got {self.text_count}")
        _require(self.image_count <= model.vision_patches, f"{prefix}.image_count",
                 f"must be <= the {model.vision_patches} vision patches, got {self.image_count}")
        _require(self.speech_spans * self.speech_span <= model.speech.max_frames,
                 f"{prefix}.speech_spans",
                 f"speech_spans x speech_span = {self.speech_spans * self.speech_span} exceeds "
                 f"model.speech.max_frames ({model.speech.max_frames})")
        _require(0.0 <= self.single_source_prob <= 1.0, f"{prefix}.single_source_prob",
                 f"must be in [0, 1], got {self.single_source_prob}")
        _require(0.0 <= self.decoder_dropout < 1.0, f"{prefix}.decoder_dropout",
                 f"must be in [0, 1), got {self.decoder_dropout}")


@dataclass
class DataConfig:
    train: str = ""              # manifest (.jsonl) or packed MindRecord; "" = the built-in corpus
    val: str = ""
    tokenizer: str = ""          # a trained tokenizer file; "" = train one on the training captions
    workers: int = 2             # parallel map workers of the pipeline
    shuffle: bool = True
    image_mean: float = 0.5      # pixels in [0, 1] are normalised as (x - mean) / std
    image_std: float = 0.5
    masking: MaskingConfig = field(default_factory=MaskingConfig)

    def check(self, prefix: str, model: "ModelConfig") -> None:
        _require(self.workers >= 1, f"{prefix}.workers", f"must be >= 1, got {self.workers}")
        _require(self.image_std > 0, f"{prefix}.image_std", f"must be > 0, got {self.image_std}")
        self.masking.check(f"{prefix}.masking", model)


@dataclass
class ObjectiveWeights:
    """Weight of each pretraining objective in the summed loss; 0 disables it."""
    mlm: float = 1.0          # token level: masked language modelling
    mim: float = 1.0          # token level: masked image modelling (VQ codes of hidden patches)
    msm: float = 1.0          # token level: masked speech modelling (train.msm_loss: l1 or contrastive)
    text_gen: float = 1.0     # modality level: text from the other modalities
    image_gen: float = 1.0    # modality level: VQ image codes from the others
    speech_gen: float = 1.0   # modality level: log-mel from the others
    contrastive: float = 1.0  # sample level: InfoNCE over every present pair
    matching: float = 1.0     # sample level: 5-way tri-modal matching with hard negatives
    ctc: float = 0.0          # token level: CTC from the speech encoder's tokens to the transcript

    @property
    def generated(self) -> tuple[int, ...]:
        """The modalities (0 text, 1 image, 2 speech) a decoder learns to generate, in that
        order: each gets ``data.masking.hide_per_batch`` rows of the batch that hide it. A
        disabled decoder gets no rows, so a text-only fine-tune trains on all of them."""
        weights = (self.text_gen, self.image_gen, self.speech_gen)
        return tuple(k for k, w in enumerate(weights) if w > 0)

    def check(self, prefix: str) -> None:
        for k, v in vars(self).items():
            _require(v >= 0, f"{prefix}.{k}", f"must be >= 0, got {v}")
        _require(any(v > 0 for v in vars(self).values()), prefix, "every objective is disabled")


@dataclass
class VQStageConfig:
    """Stage 0: the VQ image tokenizer, trained first and then frozen."""
    steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-3
    max_minutes: float = 0.0  # wall-clock budget (0: none), compilation not counted

    def check(self, prefix: str) -> None:
        _positive(self, prefix, "steps", "batch_size", "lr")
        _require(self.max_minutes >= 0, f"{prefix}.max_minutes", f"must be >= 0, got {self.max_minutes}")


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated list of names, e.g. components (spaces around a name ignored)."""
    return tuple(c.strip() for c in text.split(",") if c.strip())


MSM_FORMS = ("l1", "contrastive")  # train.msm_loss: zidong/objectives/masked_speech.py

# the trainable parts of the model (the VQ image tokenizer is always frozen after its stage)
COMPONENTS = ("text_encoder", "vision_encoder", "speech_encoder", "fusion", "text_decoder",
              "image_decoder", "speech_decoder")


@dataclass
class TrainConfig:
    batch_size: int = 8
    lr: float = 3e-4
    weight_decay: float = 0.01
    max_steps: int = 1
    max_minutes: float = 0.0     # wall-clock budget (0: none), compilation not counted
    # with max_minutes: the cosine decay fitted to the steps the budget allows (re-estimated
    # every step from the mean step time). Off by default: on runs this short everything is still
    # learning, and the decay cost retrieval (30-minute small benchmark, docs/results.md)
    budget_schedule: bool = False
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1    # cosine decay ends at lr * min_lr_ratio
    clip_norm: float = 1.0
    grad_accum: int = 1          # micro-batches per optimizer step
    temperature_lr_scale: float = 10.0  # the contrastive temperature learns this much faster
    task_sampling: bool = False  # one level of objectives per step (the reference's way) instead of all
    # fraction of the run (of max_minutes if set, else of max_steps) that trains the contrastive
    # objective alone, on its own cheaper graph, before every objective joins. One optimizer and
    # one learning-rate curve run through both phases. Why: 15 minutes of contrastive-only
    # training reached t2i R@1 27.6% where 30 minutes of all objectives reached 13.2%
    # (docs/results.md)
    warm_start: float = 0.0
    clean_contrastive: bool = True  # contrastive embeddings from unmasked inputs (one more encoder pass)
    # masked speech modelling's loss: "l1" (regress the hidden log-mel frames) or "contrastive"
    # (pick the true hidden patch among the batch's others, wav2vec 2.0's task; why and how:
    # zidong/objectives/masked_speech.py)
    msm_loss: str = "l1"
    # rows of the batch that go through the masked encoder pass, the fusion and every head but the
    # contrastive one (0: all). Below batch_size, the remaining rows only feed the contrastive
    # objective's clean encoder pass: more negatives per step for less than the fusion costs
    fusion_batch: int = 0
    # model components kept as they are (comma-separated, e.g. "vision_encoder,fusion"): a
    # decoder fine-tuned alone cannot erase what the encoders and the fusion learnt (trained
    # together on text generation only, the fused memory of every image became the same)
    freeze: str = ""
    # model components that start from their initial values when a run continues another
    # (``--init-from``), e.g. "speech_decoder": a decoder retrained in a new mode learnt faster
    # from scratch than from the pretrained one, whose weights were fitted to the old mode
    reinit: str = ""
    log_every: int = 10
    ckpt_every: int = 500
    keep_last: int = 2
    # clean training batches the vision encoder's BatchNorm statistics are re-estimated on when a
    # run ends (0: off; a model without BatchNorm skips it). Why: zidong/train/batchnorm.py
    bn_recalibrate: int = 50
    objectives: ObjectiveWeights = field(default_factory=ObjectiveWeights)
    vq: VQStageConfig = field(default_factory=VQStageConfig)

    @property
    def fused_rows(self) -> int:
        return self.fusion_batch or self.batch_size

    @property
    def frozen(self) -> tuple[str, ...]:
        return _names(self.freeze)

    @property
    def fresh(self) -> tuple[str, ...]:
        return _names(self.reinit)

    def check(self, prefix: str = "train") -> None:
        _positive(self, prefix, "batch_size", "lr", "max_steps", "clip_norm", "grad_accum",
                  "log_every", "ckpt_every", "keep_last", "temperature_lr_scale")
        _require(self.bn_recalibrate >= 0, f"{prefix}.bn_recalibrate",
                 f"must be >= 0 (0: off), got {self.bn_recalibrate}")
        _require(0 <= self.fusion_batch <= self.batch_size, f"{prefix}.fusion_batch",
                 f"must be in [0, batch_size={self.batch_size}], got {self.fusion_batch}")
        _require(self.fusion_batch in (0, self.batch_size) or self.clean_contrastive,
                 f"{prefix}.fusion_batch", f"{self.fusion_batch} < batch_size needs "
                 f"train.clean_contrastive (the other rows only have the clean pass)")
        _require(self.msm_loss in MSM_FORMS, f"{prefix}.msm_loss",
                 f"must be one of {MSM_FORMS}, got {self.msm_loss!r}")
        for key, names in (("freeze", self.frozen), ("reinit", self.fresh)):
            unknown = [c for c in names if c not in COMPONENTS]
            _require(not unknown, f"{prefix}.{key}",
                     f"unknown component(s) {unknown}; known: {', '.join(COMPONENTS)}")
        both = sorted(set(self.frozen) & set(self.fresh))
        _require(not both, f"{prefix}.reinit", f"{both} also in {prefix}.freeze: a component "
                 f"started fresh and kept frozen would never learn anything")
        for name in ("weight_decay", "warmup_steps", "max_minutes"):
            v = getattr(self, name)
            _require(v >= 0, f"{prefix}.{name}", f"must be >= 0, got {v}")
        _require(0.0 <= self.min_lr_ratio <= 1.0, f"{prefix}.min_lr_ratio",
                 f"must be in [0, 1], got {self.min_lr_ratio}")
        _require(0.0 <= self.warm_start < 1.0, f"{prefix}.warm_start",
                 f"must be in [0, 1), got {self.warm_start}")
        _require(self.warm_start == 0 or self.objectives.contrastive > 0, f"{prefix}.warm_start",
                 f"is {self.warm_start} but {prefix}.objectives.contrastive is 0: the warm start "
                 f"trains the contrastive objective alone, so there would be nothing to train")
        self.objectives.check(f"{prefix}.objectives")
        self.vq.check(f"{prefix}.vq")


@dataclass
class Config:
    name: str = "custom"
    context: ContextConfig = field(default_factory=ContextConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def check(self) -> None:
        self.context.check()
        self.parallel.check()
        self.model.check()
        self.data.check("data", self.model)
        self.train.check()
        mk = self.data.masking
        ob = self.train.objectives
        for name, weight, count in (("mlm", ob.mlm, "text_count"), ("mim", ob.mim, "image_count"),
                                    ("msm", ob.msm, "speech_spans")):
            _require(weight == 0 or getattr(mk, count) > 0, f"data.masking.{count}",
                     f"is 0, so train.objectives.{name} (weight {weight}) has nothing to predict; "
                     f"set the weight to 0 or mask something")
        # the contrastive form scores whole 4-frame speech tokens: a span shorter than 7 frames
        # need not cover one, and the objective would have nothing to pick
        _require(ob.msm == 0 or self.train.msm_loss != "contrastive" or mk.speech_span >= 7,
                 "data.masking.speech_span",
                 f"is {mk.speech_span}; train.msm_loss=contrastive needs spans of at least 7 "
                 f"frames so that each covers a whole speech token (4 frames)")
        decoders = len(ob.generated)
        used = decoders * mk.hide_per_batch + mk.match_negatives
        fused = self.train.fused_rows
        _require(used <= fused, "data.masking.hide_per_batch",
                 f"{decoders} decoders x hide_per_batch + match_negatives = {used} exceeds the "
                 f"{fused} fused rows of a batch (train.fusion_batch, else train.batch_size)")
        # the pipeline's micro-batch Cell runs the full graph only
        _require(self.train.warm_start == 0 or self.parallel.pipeline_stage == 1,
                 "train.warm_start", f"is {self.train.warm_start}, which pipeline parallelism "
                 f"(parallel.pipeline_stage {self.parallel.pipeline_stage}) does not support")
