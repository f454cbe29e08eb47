"""Diplomatie's pipeline: content -> check -> plan -> build -> publish -> archive."""

__version__ = "0.1.0"
