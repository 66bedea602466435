"""Each decoder and the VQ tokenizer can learn: they overfit one fixed batch in graph mode, and
generation then reproduces what they learnt."""
import numpy as np
import mindspore as ms
import pytest
from mindspore import nn

from tests.conftest import make_batch
from zidong.config import load_config
from zidong.config.special_tokens import BOS_ID, EOS_ID, PAD_ID
from zidong.models import create_model
from zidong.models.generation import generate_image_codes, generate_speech, generate_text
from zidong.objectives.losses import masked_cross_entropy, masked_l1
from zidong.train.step import make_train_step

PRESENCE = [[1, 1, 1], [1, 0, 0], [0, 1, 1], [0, 0, 1]]  # every sample a different subset


def overfit(loss_fn, params, steps, lr, *inputs):
    step = make_train_step(loss_fn, nn.AdamWeightDecay(params, lr, weight_decay=0.0), clip_norm=1.0)
    return [float(step(*inputs).asnumpy()) for _ in range(steps)]


def fresh_model(seed=0):
    ms.set_seed(seed)
    model = create_model(load_config("tiny").model)
    model.set_train(True)
    return model


def text_targets(cfg, rng):
    """Four different captions of different lengths: decoder input (BOS + tokens) and target
    (tokens + EOS), padded."""
    b, n = 4, cfg.text.max_len
    inp = np.full((b, n), PAD_ID, np.int32)
    tgt = np.full((b, n), PAD_ID, np.int32)
    mask = np.zeros((b, n), np.float32)
    seqs = [rng.integers(5, cfg.text.vocab_size, size=k).tolist() for k in (6, 9, 4, 12)]
    for i, s in enumerate(seqs):
        inp[i, :len(s) + 1] = [BOS_ID] + s
        tgt[i, :len(s) + 1] = s + [EOS_ID]
        mask[i, :len(s) + 1] = 1
    return seqs, ms.Tensor(inp), ms.Tensor(tgt), ms.Tensor(mask)


def test_text_decoder_overfits_and_greedy_and_beam_reproduce_it():
    model = fresh_model()
    cfg = model.cfg
    batch = make_batch(cfg, PRESENCE, seed=3, text_len=7, frames=36)
    seqs, inp, tgt, mask = text_targets(cfg, np.random.default_rng(0))

    def loss_fn(*inputs):
        memory, mmask = model(*inputs[:6])[:2]
        return masked_cross_entropy(model.text_decoder(inputs[6], memory, mmask), inputs[7],
                                    inputs[8])

    losses = overfit(loss_fn, model.trainable_params(), 150, 3e-3, *batch, inp, tgt, mask)
    assert losses[-1] <= 0.1 * losses[0], losses[::25]
    model.set_train(False)
    memory, mmask = model(*batch)[:2]
    assert generate_text(model, memory, mmask, "greedy") == seqs
    assert generate_text(model, memory, mmask, "beam", beam_size=3) == seqs


def test_image_decoder_overfits_and_greedy_sampling_reproduces_codes():
    model = fresh_model()
    cfg = model.cfg
    batch = make_batch(cfg, PRESENCE, seed=4, text_len=5, frames=24)
    k, n = cfg.image_tokenizer.codebook_size, cfg.image_tokens
    codes = np.random.default_rng(1).integers(0, k, (4, n)).astype(np.int32)
    inp = np.concatenate([np.full((4, 1), k, np.int32), codes[:, :-1]], 1)  # BOS = k
    ones = np.ones((4, n), np.float32)

    def loss_fn(*inputs):
        memory, mmask = model(*inputs[:6])[:2]
        return masked_cross_entropy(model.image_decoder(inputs[6], memory, mmask), inputs[7],
                                    inputs[8])

    losses = overfit(loss_fn, model.trainable_params(), 150, 3e-3, *batch, ms.Tensor(inp),
                     ms.Tensor(codes), ms.Tensor(ones))
    assert losses[-1] <= 0.1 * losses[0], losses[::25]
    model.set_train(False)
    memory, mmask = model(*batch)[:2]
    np.testing.assert_array_equal(generate_image_codes(model, memory, mmask, temperature=0), codes)
    # sampling: the same seed gives the same codes, another seed other codes (at a high temperature)
    a = generate_image_codes(model, memory, mmask, temperature=5.0, seed=7)
    b = generate_image_codes(model, memory, mmask, temperature=5.0, seed=7)
    c = generate_image_codes(model, memory, mmask, temperature=5.0, seed=8)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def smooth_mels(cfg, lengths, rng):
    """Log-mel-like targets: a few moving formant-like bumps per utterance, floor after the end."""
    t, f = cfg.speech.max_frames, cfg.speech.n_mels
    mel = np.full((len(lengths), t, f), -4.0, np.float32)
    bins = np.arange(f)
    for i, length in enumerate(lengths):
        start, slope = rng.uniform(5, f - 5), rng.uniform(-0.3, 0.3)
        for j in range(length):
            centre = start + slope * j
            mel[i, j] = -4.0 + 6.0 * np.exp(-0.5 * ((bins - centre) / 3.0) ** 2)
    return mel


def test_speech_decoder_overfits_mel_and_length():
    model = fresh_model()
    cfg = model.cfg
    batch = make_batch(cfg, PRESENCE, seed=5, text_len=6, frames=44)
    lengths = np.array([64, 40, 28, 52], np.float32)
    mel = smooth_mels(cfg, lengths.astype(int), np.random.default_rng(2))
    frame_mask = (np.arange(cfg.speech.max_frames)[None] < lengths[:, None]).astype(np.float32)

    def loss_fn(*inputs):
        memory, mmask = model(*inputs[:6])[:2]
        pred, frac = model.speech_decoder(memory, mmask, inputs[7])
        length_loss = ((frac - inputs[7] / cfg.speech.max_frames) ** 2).mean()
        return masked_l1(pred, inputs[6], inputs[8]) + length_loss

    losses = overfit(loss_fn, model.trainable_params(), 600, 1e-3, *batch, ms.Tensor(mel),
                     ms.Tensor(lengths), ms.Tensor(frame_mask))
    assert losses[-1] <= 0.1 * losses[0], losses[::25]
    model.set_train(False)
    memory, mmask = model(*batch)[:2]
    out = generate_speech(model, memory, mmask)
    assert [len(m) for m in out] == pytest.approx(lengths.tolist(), abs=2)
    errors = [np.abs(m[:int(n)] - mel[i, :int(n)]).mean() for i, (m, n) in
              enumerate(zip(out, np.minimum([len(m) for m in out], lengths)))]
    # what generation produces is what was learnt: as close to the targets as the training loss
    assert np.mean(errors) <= 1.5 * losses[-1]


def smooth_images(cfg, rng, b=4):
    """Blobs of colour on a gradient: images with structure a VQ can compress."""
    s = cfg.vision.image_size
    yy, xx = np.mgrid[0:s, 0:s] / s
    imgs = np.zeros((b, 3, s, s), np.float32)
    for i in range(b):
        cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.float32)
        for c in range(3):
            imgs[i, c] = rng.uniform(-1, 1) * blob + rng.uniform(-1, 1) * (1 - blob) * xx
    return imgs


def train_vq(seed, steps):
    ms.set_seed(seed)
    model = create_model(load_config("tiny").model)
    tok = model.image_tokenizer
    tok.set_train(True)
    images = ms.Tensor(smooth_images(model.cfg, np.random.default_rng(3)))

    def loss_fn(x):
        rec, _, commit = tok(x)
        return ((rec - x) ** 2).mean() + commit

    codebook = tok.quantizer.embedding.asnumpy().copy()
    losses = overfit(loss_fn, tok.trainable_params(), steps, 1e-3, images)
    return tok, images, losses, codebook


def test_vq_tokenizer_overfits_and_its_codebook_moves_by_ema():
    tok, images, losses, codebook0 = train_vq(0, 200)
    assert losses[-1] <= 0.1 * losses[0], losses[::25]
    assert np.abs(tok.quantizer.embedding.asnumpy() - codebook0).max() > 1e-2
    tok.set_train(False)
    codes = tok.encode(images)
    assert codes.shape == (4, load_config("tiny").model.image_tokens)
    recon = tok.decode(codes).asnumpy()
    # decoding the discrete codes is as good as the training forward pass
    rec_err = ((recon - images.asnumpy()) ** 2).mean()
    assert rec_err <= 0.1 * ((images.asnumpy() - images.asnumpy().mean()) ** 2).mean()


def test_same_seed_same_training_same_weights():
    a, _, losses_a, _ = train_vq(11, 5)
    b, _, losses_b, _ = train_vq(11, 5)
    assert losses_a == losses_b
    for pa, pb in zip(a.get_parameters(), b.get_parameters()):
        np.testing.assert_array_equal(pa.asnumpy(), pb.asnumpy())


def test_speech_decoder_language_is_an_input_and_none_means_no_language():
    model = fresh_model()
    model.set_train(False)
    batch = make_batch(model.cfg, PRESENCE, seed=5, text_len=6, frames=44)
    memory, mmask = model(*batch)[:2]
    lengths = ms.Tensor(np.full(4, 40, np.float32))
    dec = model.speech_decoder
    en = dec(memory, mmask, lengths, ms.Tensor(np.zeros(4, np.int32)))
    zh = dec(memory, mmask, lengths, ms.Tensor(np.ones(4, np.int32)))
    assert np.abs(en[0].asnumpy() - zh[0].asnumpy()).max() > 1e-4       # mel depends on it
    assert np.abs(en[1].asnumpy() - zh[1].asnumpy()).max() > 0          # and so does the length
    # a checkpoint from before the embedding loads it as zeros: exactly "no language"
    dec.lang.set_data(ms.Tensor(np.zeros(dec.lang.shape, np.float32)))
    none = dec(memory, mmask, lengths)
    zero = dec(memory, mmask, lengths, ms.Tensor(np.zeros(4, np.int32)))
    np.testing.assert_allclose(none[0].asnumpy(), zero[0].asnumpy(), atol=1e-6)


def test_the_alignment_prior_favours_the_text_token_at_the_same_relative_position():
    cfg = load_config("tiny", ["model.speech_decoder.align_prior=0.1"]).model
    dec = create_model(cfg).speech_decoder
    lt = cfg.text.max_len
    mask = np.zeros((2, 2 + lt + 3), np.float32)
    mask[:, :2] = 1                      # fusion CLS, text CLS
    mask[0, 2:6] = 1                     # sample 0: four text tokens (centres 1/8, 3/8, 5/8, 7/8)
    mask[1, -3:] = 1                     # sample 1: no text, other keys only
    rel = np.array([0.125, 0.625, 0.9], np.float32).reshape(1, 3, 1).repeat(2, 0)
    prior = dec.alignment_prior(ms.Tensor(rel), ms.Tensor(mask)).asnumpy()[:, 0]   # (2, 3, Lm)
    assert prior.shape == (2, 3, 2 + lt + 3)
    text = prior[0, :, 2:6]
    assert text.argmax(axis=1).tolist() == [0, 2, 3]           # each query its own token
    np.testing.assert_allclose(text[0], [0.0, -3.125, -12.5, -28.125], atol=1e-4)
    # keys that are not real text tokens are never biased: CLS, padding, image/speech, no text
    assert not prior[0, :, :2].any() and not prior[0, :, 6:].any() and not prior[1].any()


def test_the_alignment_prior_changes_only_what_is_said_from_text_in_graph_mode():
    model = fresh_model()
    model.set_train(False)
    batch = make_batch(model.cfg, PRESENCE, seed=5, text_len=6, frames=44)   # samples 0, 1 have text
    memory, mmask = model(*batch)[:2]
    lengths = ms.Tensor(np.full(4, 40, np.float32))
    plain = model.speech_decoder
    prior_cfg = load_config("tiny", ["model.speech_decoder.align_prior=0.1"]).model
    ms.set_seed(0)
    with_prior = create_model(prior_cfg).speech_decoder
    ms.load_param_into_net(with_prior, {p.name: p for p in plain.get_parameters()})
    with_prior.set_train(False)
    a = ms.jit(plain)(memory, mmask, lengths)[0].asnumpy()
    b = ms.jit(with_prior)(memory, mmask, lengths)[0].asnumpy()
    assert np.abs(a[:2] - b[:2]).max() > 1e-3                     # speech from text: biased
    np.testing.assert_allclose(a[2:], b[2:], atol=1e-5)           # no text: the same decoder


def test_learned_durations_start_as_the_uniform_prior_and_learn_from_the_frames():
    uniform_cfg = load_config("tiny", ["model.speech_decoder.align_prior=0.1"]).model
    learned_cfg = load_config("tiny", ["model.speech_decoder.align_prior=0.1",
                                       "model.speech_decoder.align_durations=learned"]).model
    ms.set_seed(0)
    model = create_model(learned_cfg)
    model.set_train(False)
    batch = make_batch(learned_cfg, PRESENCE, seed=5, text_len=6, frames=44)
    memory, mmask = model(*batch)[:2]
    lengths = ms.Tensor(np.full(4, 40, np.float32))
    dec = model.speech_decoder
    uniform = create_model(uniform_cfg).speech_decoder
    ms.load_param_into_net(uniform, {p.name: p for p in dec.get_parameters()})
    uniform.set_train(False)
    # zero-initialised durations: exactly the uniform prior (what a checkpoint without them gets)
    np.testing.assert_allclose(ms.jit(dec)(memory, mmask, lengths)[0].asnumpy(),
                               ms.jit(uniform)(memory, mmask, lengths)[0].asnumpy(), atol=1e-6)

    # the frame loss alone moves them: durations differ between tokens after a few steps
    rng = np.random.default_rng(4)
    target = ms.Tensor(rng.normal(size=(4, learned_cfg.speech.max_frames,
                                        learned_cfg.speech.n_mels)).astype(np.float32))
    frame_mask = ms.Tensor((np.arange(learned_cfg.speech.max_frames)[None] < 40)
                           .repeat(4, 0).astype(np.float32))
    memory, mmask = ms.Tensor(memory.asnumpy()), ms.Tensor(mmask.asnumpy())
    dec.set_train(True)

    def loss_fn(mem, mask, lens, mel, fmask):
        return masked_l1(dec(mem, mask, lens)[0], mel, fmask)

    overfit(loss_fn, dec.trainable_params(), 20, 1e-2, memory, mmask, lengths, target, frame_mask)
    assert np.abs(dec.dur.weight.asnumpy()).max() > 0
    dur = dec.token_durations(memory, mmask).asnumpy()
    text = mmask.asnumpy()[:, 2:2 + learned_cfg.text.max_len] > 0
    assert not dur[~text].any()                                   # padding takes no time
    real = dur[0][text[0]]
    assert real.max() - real.min() > 1e-3, real


def test_learned_durations_need_the_prior():
    with pytest.raises(ValueError, match="align_durations"):
        load_config("tiny", ["model.speech_decoder.align_durations=learned"])
    with pytest.raises(ValueError, match="align_durations"):
        load_config("tiny", ["model.speech_decoder.align_prior=0.1",
                             "model.speech_decoder.align_durations=spline"])


def test_aligned_mode_gives_each_query_its_own_token_and_its_offset():
    cfg = load_config("tiny", ["model.speech_decoder.align_durations=aligned"]).model
    dec = create_model(cfg).speech_decoder
    lt = cfg.text.max_len
    mask = np.zeros((1, 2 + lt + 3), np.float32)
    mask[:, :2] = 1
    mask[0, 2:5] = 1                                  # three tokens
    mask[0, -3:] = 1                                  # and some other keys
    shares = np.zeros((1, lt), np.float32)
    shares[0, :3] = [0.2, 0.5, 0.3]                   # spans [0, .2) [.2, .7) [.7, 1)
    rel = np.array([0.1, 0.45, 0.95, 1.2], np.float32).reshape(1, 4, 1)
    bias, offset, inside = dec.regulate(ms.Tensor(rel), ms.Tensor(shares), ms.Tensor(mask))
    bias = bias.asnumpy()[0, 0]                       # (Q, Lm)
    open_text = bias[:, 2:5] == 0
    assert open_text.tolist() == [[True, False, False], [False, True, False],
                                  [False, False, True], [False, False, False]]
    np.testing.assert_allclose(offset.asnumpy().reshape(-1), [0.5, 0.5, 5 / 6, 0.0], atol=1e-5)
    assert inside.asnumpy()[0, :, :3].tolist() == open_text.astype(np.float32).tolist()
    assert not inside.asnumpy()[0, :, 3:].any()
    # CLS, padding and the other modalities' keys are never biased here
    assert not bias[:, :2].any() and not bias[:, 5:].any()


def test_aligned_mode_trains_its_duration_predictor_in_a_pretraining_step():
    from zidong.train.pretrain_net import OBJECTIVES, PretrainNet
    from zidong.train.step import make_train_step
    # the speech decoder alone, on all four rows
    cfg = load_config("tiny", ["model.speech_decoder.align_durations=aligned",
                               "data.masking.hide_per_batch=4", "data.masking.match_negatives=0",
                               "train.batch_size=4", "train.objectives.text_gen=0",
                               "train.objectives.image_gen=0"])
    ms.set_seed(0)
    model = create_model(cfg.model)
    net = PretrainNet(model, cfg)
    b, lt = 4, cfg.model.text.max_len
    rng = np.random.default_rng(0)
    batch = make_batch(cfg.model, [[1, 0, 1]] * b, seed=3, text_len=6, frames=44)
    text_ids, text_mask, image, mel, mel_mask, presence = [x.asnumpy() for x in batch]
    z = np.zeros
    dur = z((b, lt), np.float32)
    dur[:2, :6] = rng.dirichlet(np.ones(6), size=2)    # two samples timed, two not
    inputs = dict(text_ids=text_ids, text_mask=text_mask, dec_in=text_ids, dec_target=text_ids,
                  dec_mask=text_mask, text_masked=text_ids,
                  text_mlm_pos=z((b, cfg.data.masking.text_count), np.int32),
                  text_mlm_weight=z((b, cfg.data.masking.text_count), np.float32),
                  image=image, image_mlm_mask=z((b, cfg.model.vision_patches), np.float32),
                  mel=mel, mel_mask=mel_mask, mel_mlm_mask=z(mel_mask.shape, np.float32),
                  mel_len=mel_mask.sum(1).astype(np.float32), presence=presence,
                  hidden=np.tile(np.array([0, 0, 1], np.float32), (b, 1)),
                  lang_id=z(b, np.int32), answer=z(b, np.float32), text_dur=dur)
    from zidong.train.pretrain_net import BATCH
    weights = np.zeros(len(OBJECTIVES), np.float32)
    weights[OBJECTIVES.index("speech_gen")] = 1
    args = [ms.Tensor(inputs[c]) for c in BATCH] + [ms.Tensor(weights)]
    dec = model.speech_decoder
    before = dec.duration_shares(*model(*batch)[:2]).asnumpy()
    params = [p for p in net.trainable_params() if "speech_decoder.dur." in p.name]

    def total(*a):
        return net(*a)[0]

    step = make_train_step(total, nn.AdamWeightDecay(params, 1e-2, weight_decay=0.0))
    first = float(step(*args).asnumpy())
    for _ in range(30):
        last = float(step(*args).asnumpy())
    assert last < first                                 # the duration term falls
    after = dec.duration_shares(*model(*batch)[:2]).asnumpy()
    # the predictor moved towards the two timed samples' shares, away from equal ones
    err = lambda s: np.abs(np.log(s[:2, :6]) - np.log(dur[:2, :6])).mean()
    assert err(after) < err(before)


def test_expanded_tokens_start_silent_and_then_carry_the_own_token():
    from zidong.models.speech_decoder import SpeechDecoder
    cfgs = [load_config("tiny", ["model.speech_decoder.align_durations=aligned",
                                 f"model.speech_decoder.expand_tokens={e}"]).model
            for e in ("false", "true")]
    m = cfgs[0]
    decs = [SpeechDecoder(c.speech_decoder, c.speech.n_mels, c.speech.max_frames, c.unified_dim,
                          text_len=c.text.max_len) for c in cfgs]
    plain, expanded = decs
    shared = {p.name: p for p in plain.get_parameters()}
    for p in expanded.get_parameters():
        if p.name in shared:
            p.set_data(shared[p.name].data)
    names = [p.name for p in expanded.get_parameters()]
    assert "token_out.weight" in names and "local_out.weight" in names
    rng = np.random.default_rng(0)
    lm = 2 + m.text.max_len + 4
    memory = ms.Tensor(rng.normal(size=(2, lm, m.unified_dim)).astype(np.float32))
    mask = np.zeros((2, lm), np.float32)
    mask[:, :2 + 5] = 1                                            # CLS, text CLS, five tokens
    args = (memory, ms.Tensor(mask), ms.Tensor(np.array([40.0, 30.0], np.float32)))
    # zero-initialised: exactly what the decoder computed before it existed
    np.testing.assert_allclose(expanded(*args)[0].asnumpy(), plain(*args)[0].asnumpy(),
                               atol=1e-6)
    # with weights, the own token's vector reaches the output through the query's input and
    # through the local path, each on its own
    for out in (expanded.token_out, expanded.local_out):
        out.weight.set_data(ms.Tensor(rng.normal(0, 0.1, out.weight.shape).astype(np.float32)))
        assert np.abs(expanded(*args)[0].asnumpy() - plain(*args)[0].asnumpy()).max() > 1e-3
        out.weight.set_data(ms.Tensor(np.zeros(out.weight.shape, np.float32)))


def test_an_older_checkpoint_loads_with_the_token_path_silent_but_trainable():
    from mindspore import ops
    from zidong.eval.load import zero_added_later
    c = load_config("tiny", ["model.speech_decoder.align_durations=aligned"]).model
    model = create_model(c)
    dec = model.speech_decoder
    new = [p.name for p in model.get_parameters() if p.name.split(".")[1] in
           ("token_in", "token_hidden", "token_out", "local_out")]
    assert len(new) == 8
    assert zero_added_later(model, new, "an older checkpoint") == []
    params = {p.name: p for p in model.get_parameters()}
    assert not params["speech_decoder.token_out.weight"].asnumpy().any()
    assert not params["speech_decoder.local_out.weight"].asnumpy().any()
    # kept at its initial value: zeroed too, no gradient would ever reach the new path
    assert params["speech_decoder.token_in.weight"].asnumpy().any()
    rng = np.random.default_rng(0)
    lm = 2 + c.text.max_len + 4
    memory = ms.Tensor(rng.normal(size=(2, lm, c.unified_dim)).astype(np.float32))
    mask = np.zeros((2, lm), np.float32)
    mask[:, :2 + 5] = 1
    target = ms.Tensor(rng.normal(size=(2, c.speech.max_frames, c.speech.n_mels))
                       .astype(np.float32))

    def l1(*inputs):
        return ops.abs(dec(*inputs)[0] - target).mean()
    grads = ms.grad(l1, grad_position=None,
                    weights=[params["speech_decoder.local_out.weight"],
                             params["speech_decoder.token_out.weight"]])(
        memory, ms.Tensor(mask), ms.Tensor(np.array([40.0, 30.0], np.float32)))
    assert all(np.abs(g.asnumpy()).max() > 0 for g in grads)
