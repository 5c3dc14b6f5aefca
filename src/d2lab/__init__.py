"""d2lab: the Dive into Deep Learning experiments as composable Hydra + Lightning configs.

From Python (a notebook, a script): d2lab.run(...), d2lab.sweep(...), d2lab.load(folder); see d2lab/api.py.
"""

__version__ = "0.1.0"
__all__ = ["D2LabError", "Run", "Sweep", "load", "run", "sweep"]

_API = {"run": "d2lab.api", "sweep": "d2lab.api", "load": "d2lab.api", "Run": "d2lab.results",
        "Sweep": "d2lab.results", "D2LabError": "d2lab.errors"}  # fmt: skip


def __getattr__(name: str) -> object:
    # Looked up on first use: `python -m d2lab.train` imports this package, and should not pay for pandas here.
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'd2lab' has no attribute {name!r}")
