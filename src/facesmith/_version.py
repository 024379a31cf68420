"""The one place the version is written (pyproject.toml reads it from here): importing it loads nothing else."""

__version__ = "0.1.0"
