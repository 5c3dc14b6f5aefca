"""The report of a sweep: tables and pictures from its files. It reads files only: no torch, no Lightning."""
