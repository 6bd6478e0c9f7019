"""Exporters of detections: COCO JSON, MOT, CSV, KITTI labels and rendered video (with their readers)."""
