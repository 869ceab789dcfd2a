"""claude-workers: run Claude jobs on a fleet of RQ workers that share one Claude login."""

__version__ = "0.1.0"

__all__ = ["__version__"]
