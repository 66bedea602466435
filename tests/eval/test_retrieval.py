import numpy as np

from zidong.eval.retrieval import recall_at, retrieval_metrics


def test_recall_counts_ranks_exactly():
    q = np.eye(4)
    c = np.eye(4)
    # candidate 2 duplicates candidate 1: query 1 ties its own candidate with candidate 2
    # (rank 2), query 2 scores 0 with every candidate (a 4-way tie, rank 4): ties count against
    c[2] = [0, 1, 0, 0]
    r = recall_at(q, c, ks=(1, 2, 4))
    assert r == {"R@1": 0.5, "R@2": 0.75, "R@4": 1.0}


def test_directions_use_only_samples_with_both_modalities():
    rng = np.random.default_rng(0)
    e = rng.standard_normal((6, 8))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    emb = {"text": e, "image": e + 0.01, "speech": rng.standard_normal((6, 8)),
           "presence": np.array([[1, 1, 0]] * 3 + [[1, 1, 1]] * 3, np.float32)}
    m = retrieval_metrics(emb)
    assert m["retrieval.t2i.candidates"] == 6 and m["retrieval.t2i.R@1"] == 1.0
    assert m["retrieval.s2t.candidates"] == 3


def test_text_plus_speech_queries_resolve_what_either_leaves_ambiguous():
    e = np.eye(8)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)
    image = e[:4]
    # texts 0/1 point between images 0 and 1 (and 2/3 between 2 and 3): a tie each; the speech
    # ties differently, so only the two together single out the right image
    text = unit(np.stack([e[0] + e[1], e[0] + e[1], e[2] + e[3], e[2] + e[3]]))
    speech = unit(np.stack([e[0] + e[2], e[1] + e[3], e[2] + e[1], e[3] + e[0]]))
    presence = np.ones((5, 3), np.float32)
    presence[4, 2] = 0                     # no speech: not a candidate of the combined query
    emb = {"text": np.vstack([text, e[5:6]]), "image": np.vstack([image, e[6:7]]),
           "speech": np.vstack([speech, e[7:8]]), "presence": presence}
    m = retrieval_metrics(emb)
    assert m["retrieval.ts2i.candidates"] == 4 and m["retrieval.ts2i.R@1"] == 1.0
    assert m["retrieval.t2i.R@1"] < 1.0 and m["retrieval.s2i.R@1"] == 0.0
