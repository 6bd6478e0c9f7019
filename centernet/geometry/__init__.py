"""Geometry every layer uses: image transforms and pre-processing specs, camera matrices, 3D boxes.

The bottom room of the library: it imports nothing of the project but `errors`.
"""
