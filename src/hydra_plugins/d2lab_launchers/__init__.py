"""d2lab's Hydra launchers."""
