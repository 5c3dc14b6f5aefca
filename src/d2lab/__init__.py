"""d2lab: the Dive into Deep Learning experiments as composable Hydra + Lightning configs."""

__version__ = "0.1.0"
