import pytest


@pytest.fixture(scope="session")
def exported(tiny_run, tmp_path_factory):
    """(export folder, export.json) of every graph of the tiny run: exported once (each graph is a
    compilation)."""
    from zidong.export.exporter import export_run
    out = tmp_path_factory.mktemp("mindir")
    return out, export_run(tiny_run[0], out)


@pytest.fixture(scope="session")
def runtime(exported):
    from zidong.export.infer import MindirEngine
    return MindirEngine(exported[0], batch_size=4)


@pytest.fixture(scope="session")
def engine(tiny_run):
    from zidong.tasks.engine import TaskEngine
    return TaskEngine(tiny_run[0], batch_size=4)
