"""Whether d2lab runs inside a Jupyter kernel: the live plot's default, and a notebook's quieter run."""

import sys


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not a terminal IPython, not a plain Python)."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def live_plot_wanted(setting: bool | None) -> bool:
    """`live_plot`: true or false as set; null means on inside Jupyter, off elsewhere."""
    return in_notebook() if setting is None else setting
