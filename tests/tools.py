"""The scripts under tools/ are not a package: tests load them by path."""
import importlib.util
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def load_tool(name: str):
    """The module tools/<name>.py, freshly executed."""
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    tool = importlib.util.module_from_spec(spec)
    # registered as importlib's recipe does: MindSpore's graph parser imports the module of a
    # Cell defined in the tool by its name
    sys.modules[name] = tool
    spec.loader.exec_module(tool)
    return tool
