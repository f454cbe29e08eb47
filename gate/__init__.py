"""Diplomatie's gate: lets each community's invited members, and nobody else, into its site.

The gate never imports the pipeline. ``gate.store`` (the storage layout) and ``gate.tokens`` (the
token format) are the two contracts the pipeline writes through.
"""
