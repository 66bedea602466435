import pytest

from zidong.data.corpus.build import build_corpus


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory):
    """A real built-in corpus, tiny: 48 training scenes with speech, 20 per evaluation split."""
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out, size=48, eval_size=20, photo_size=5, progress=False, workers=1)
    return out
