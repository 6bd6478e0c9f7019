"""Inference: the Detector, its engines, the frame pipeline, pre-processing, decoding, test-time augmentation."""
