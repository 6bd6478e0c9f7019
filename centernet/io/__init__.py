"""Frames in and results out: sources, writers, the renderer, tracking, cameras and 3D geometry."""
