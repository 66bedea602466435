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
