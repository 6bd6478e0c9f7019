"""Workflows over a Detector: detect, annotate, explore, bench and the GPU check."""
