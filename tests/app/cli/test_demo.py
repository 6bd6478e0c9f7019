"""The main job (`python main.py` with no arguments) without a display: annotate the demo clip."""
import json

import cv2

from app.cli import demo
from app.cli.main import main
from centernet.models.zoo import DEFAULT_MODELS


def test_without_a_display_the_main_job_annotates_the_clip_and_says_where(tmp_path, monkeypatch, capsys):
    assert DEFAULT_MODELS["ctdet"].exists() and demo.DEMO_CLIP.exists()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert not demo.has_display()
    clip = tmp_path / "bikes.mp4"  # the shipped clip, cut to 8 frames to keep the test short
    cap = cv2.VideoCapture(str(demo.DEMO_CLIP))
    ok, frame = cap.read()
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 25, (frame.shape[1], frame.shape[0]))
    for _ in range(8):
        writer.write(frame)
        ok, frame = cap.read()
    writer.release()
    cap.release()
    monkeypatch.setattr(demo, "DEMO_CLIP", clip)
    monkeypatch.setattr(demo, "DEMO_OUT", tmp_path / "out")
    assert demo.run_main_job(main) == 0
    printed = capsys.readouterr().out
    folder = tmp_path / "out" / "bikes"
    assert str(folder / "annotations.json") in printed and str(folder / "rendered.mp4") in printed
    coco = json.loads((folder / "annotations.json").read_text())
    assert len(coco["images"]) == 8 and coco["annotations"], "the default model finds the cyclist and cars"
    assert cv2.VideoCapture(str(folder / "rendered.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 8
