"""Retouch: the shared layer of the AI photo-editing backend."""

__version__ = "0.1.0"
