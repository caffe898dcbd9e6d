"""gameday: chaos-engineering and game-day harness for multi-region AWS architectures."""

__version__ = "0.1.0"
