"""annotate's plan (output folders per input) and resume state (chunk files, fingerprint), without a model."""
from __future__ import annotations

import json

import pytest

from centernet.detections import Detections
from centernet.errors import ConfigError, InputError
from centernet.io.writers.records import FrameRecord
from centernet.jobs.annotate.plan import AnnotateOptions, output_name, parse_formats, plan_job
from centernet.jobs.annotate.state import STATE_DIR, ResumeState, tracker_fingerprint


def test_formats_parse_in_order_without_duplicates_and_name_the_valid_ones():
    assert parse_formats("csv, coco,csv") == ("csv", "coco")
    with pytest.raises(ConfigError, match="choose from coco, mot, csv, video"):
        parse_formats("coco,json")


def test_two_inputs_with_the_same_name_get_numbered_folders(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "clip.mp4").write_bytes(b"")
    plan = plan_job([str(tmp_path / "a" / "clip.mp4"), str(tmp_path / "b" / "clip.mp4"), "0"],
                    tmp_path / "out", AnnotateOptions())
    assert [p.folder.name for p in plan] == ["clip", "clip_1", "camera0"]
    assert output_name("rtsp://cam.local:554/live/1") == "cam.local_554_live_1"


def test_an_existing_output_folder_is_refused_unless_resuming_or_overwriting(tmp_path):
    (tmp_path / "out" / "clip").mkdir(parents=True)
    (tmp_path / "out" / "clip" / "annotations.json").write_text("{}")
    with pytest.raises(InputError, match="add --resume to continue it or --overwrite"):
        plan_job(["clip.mp4"], tmp_path / "out", AnnotateOptions())
    assert plan_job(["clip.mp4"], tmp_path / "out", AnnotateOptions(resume=True))[0].folder.name == "clip"


class FileSource:
    is_live, kind = False, "video"


def record(index: int) -> FrameRecord:
    return FrameRecord(index, index * 40.0, 64, 48, index + 1, Detections.empty())


def test_chunks_are_read_back_in_order_and_a_resume_needs_the_same_fingerprint(tmp_path):
    folder = tmp_path / "clip"
    state = ResumeState(folder, {"version": 1, "threshold": 0.3})
    state.open(AnnotateOptions(), FileSource())
    state.save_chunk(0, [record(0), record(1)], None)
    state.save_chunk(1, [record(2)], {"next_id": 3})
    assert state.chunks_done == 2 and [r.index for r in state.records()] == [0, 1, 2]
    assert json.loads((folder / STATE_DIR / "state.json").read_text())["chunks_done"] == 2

    again = ResumeState(folder, {"version": 1, "threshold": 0.3})
    again.open(AnnotateOptions(resume=True), FileSource())
    assert again.chunks_done == 2 and again.load_chunk(1)["tracker"] == {"next_id": 3}
    with pytest.raises(InputError, match=r"other settings \(threshold\)"):
        ResumeState(folder, {"version": 1, "threshold": 0.5}).open(AnnotateOptions(resume=True), FileSource())

    again.mark_complete()
    assert again.complete and not again.chunks_dir.exists()


def test_the_tracker_is_chosen_by_name_and_its_settings_are_in_the_resume_fingerprint():
    from centernet.tracking import ByteTrackConfig
    assert AnnotateOptions().tracker == "bytetrack"
    with pytest.raises(ConfigError, match="unknown --tracker 'sort': choose one of bytetrack, greedy"):
        AnnotateOptions(tracker="sort")
    byte = tracker_fingerprint(AnnotateOptions(track=True))
    assert byte["name"] == "bytetrack" and byte["lost_frames"] == 30 and byte["birth_age"] == 2
    assert tracker_fingerprint(AnnotateOptions(track=True, tracker="greedy"))["name"] == "greedy"
    tuned = tracker_fingerprint(AnnotateOptions(tracker_options=ByteTrackConfig(lost_frames=5)))
    assert tuned["lost_frames"] == 5 and json.loads(json.dumps(tuned)) == tuned
