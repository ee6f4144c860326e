"""bridge: an async protocol bridge for healthcare integration."""

__version__ = "0.1.0"
