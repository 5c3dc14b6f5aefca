"""Checks of a run's config values and of what the libraries refuse, each turned into one paragraph."""
