"""Accuracy as papers report it: COCO box / keypoint AP and KITTI AP / AOS."""
