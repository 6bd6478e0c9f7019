"""Converters from other model formats to our checkpoints (TF.js graph models so far)."""
