"""A job: building a run from its config, its record (metrics.json), checkpoints, provenance and imports."""
