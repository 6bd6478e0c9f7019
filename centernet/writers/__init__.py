"""Exporters of detections: COCO JSON, MOT, CSV and rendered video."""
