"""Where the Hydra configs live: inside the package for a wheel, ./conf for an editable install."""

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def config_dir() -> str:
    packaged = _PACKAGE_DIR / "conf"
    if packaged.is_dir():
        return str(packaged)
    return str(_PACKAGE_DIR.parents[1] / "conf")
