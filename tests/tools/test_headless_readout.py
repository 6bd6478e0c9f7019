"""The benchmark tools read `gui --headless` output: real captured lines (one source) and the many-streams
format issue 33 fixes (`final [i]: ...`, `final total: ...`, the same fields)."""
from pathlib import Path

import pytest

from app.gui.stats import PipelineStats
from tools.headless_readout import parse_headless, parse_line, percentile
from tools.multi_stream_bench import Case, cases, format_table, ratios, summarise

DATA = Path(__file__).parent / "data"
# captured from `main.py gui --headless --source assets/demo/bikes.mp4 --max-seconds 4` (2026-12-07)
ONE_SOURCE = (DATA / "headless_one_source.txt").read_text()
TAIL = ("| stages ms: capture 1.2 pre 3.4 net 43.4 decode 1.0 post 0.4 | end-to-end 1 ms | boxes 3 | dropped {d} "
        "| skipped 0 | frames {f} | CPU · Intel(R) Xeon(R) Processor · 2 threads RSS 1012 MiB")
SEVERAL = "\n".join([
    "engine: openvino bf16 (auto: fastest of 3, 24 ms/forward)",
    "[0] display 25.0 fps | inference 12.0 fps | overlay age 80 ms " + TAIL.format(d=0, f=25),
    "[1] display 10.0 fps | inference 6.0 fps | overlay age 150 ms " + TAIL.format(d=1, f=10),
    "status: [1] reconnecting",
    "final [0]: display 24.8 fps | inference 11.5 fps | overlay age 90 ms " + TAIL.format(d=0, f=200),
    "final [1]: display 9.9 fps | inference 5.5 fps | overlay age - " + TAIL.format(d=2, f=80),
    "final total: display 34.7 fps | inference 17.0 fps | overlay age 95 ms " + TAIL.format(d=2, f=280),
])


def test_one_source_output_gives_its_final_line_and_every_per_second_line():
    run = parse_headless(ONE_SOURCE)
    assert run.engine == "openvino bf16 (auto: fastest of 3, 37 ms/forward)"
    assert run.streams == 1 and run.total is None
    final = run.finals[0]
    assert (final.display_fps, final.inference_fps, final.overlay_age_ms) == (24.7, 7.0, 237.0)
    assert final.dropped == 0 and final.frames == 100 and final.rss_mib is not None
    assert [s.overlay_age_ms for s in run.seconds[0]] == [197.0, 200.0, 273.0, 281.0]
    assert run.total_inference_fps() == 7.0


def test_several_sources_are_read_per_index_with_the_total_and_a_missing_age_as_none():
    run = parse_headless(SEVERAL)
    assert run.streams == 2
    assert run.finals[1].overlay_age_ms is None and run.finals[1].dropped == 2
    assert run.total.inference_fps == 17.0 and run.total_inference_fps() == 17.0
    assert [s.display_fps for s in run.seconds[1]] == [10.0]


def test_the_line_the_readout_prints_today_parses_back_to_its_numbers():
    stats = PipelineStats()
    line = "final: " + stats.readout("CPU", "RSS 900 MiB", whole_run=True)   # nothing shown yet: age "-"
    kind, index, readout = parse_line(line)
    assert (kind, index, readout.display_fps, readout.overlay_age_ms, readout.rss_mib) == \
        ("final", None, 0.0, None, 900.0)
    assert parse_line("status: reconnecting to rtsp://cam (2/5)") is None
    assert parse_line("model: ctdet mobilenetv3 (80 classes) on cpu, input (512, 512)") is None


def test_one_process_and_n_processes_summaries_and_their_ratio():
    case = Case("mix x2", ("a", "b"))
    one = summarise(case, "one process", [parse_headless(SEVERAL)], [0], 1100.0)
    many = summarise(case, "2 processes", [parse_headless(ONE_SOURCE), parse_headless(ONE_SOURCE)], [0, 0], 1900.0)
    assert one.total_inference_fps == 17.0 and (one.stream_inference_min, one.stream_inference_median) == (5.5, 8.5)
    assert one.overlay_age_p50_ms == 90.0 and one.display_min == 9.9
    assert many.total_inference_fps == 14.0 and many.overlay_age_p50_ms == 237.0 and not many.note
    assert many.overlay_age_p95_ms == pytest.approx(percentile([197, 200, 273, 281] * 2, 95))
    assert ratios([one, many]) == ["mix x2: one process 1.21x the inference fps of 2 processes in 0.58x their memory"]
    assert "| mix x2 | one process | 17.0 | 5.5 / 8.5 |" in format_table([one, many])


def test_a_run_that_printed_no_final_line_is_reported_not_counted():
    case = Case("demo x2", ("a", "a"))
    out = summarise(case, "2 processes", [parse_headless(ONE_SOURCE), parse_headless("error: no frame")], [0, 2], 950)
    assert out.note == "1 final lines for 2 streams" and out.total_inference_fps == 7.0
    empty = summarise(case, "one process", [parse_headless("error: bad source")], [2], 300)
    assert empty.total_inference_fps is None and "no figures" not in format_table([empty])
    assert "0 final lines for 2 streams" in format_table([empty])


def test_percentile_interpolates_and_handles_short_lists():
    assert percentile([], 95) is None and percentile([5.0], 95) == 5.0
    assert percentile(list(range(101)), 95) == pytest.approx(95.0)


def test_cases_are_n_copies_of_the_demo_clip_and_the_mix_alternates_the_other_video():
    demo = cases([1, 2, 4])
    assert [c.name for c in demo] == ["demo x1", "demo x2", "demo x4"] and len(set(demo[2].sources)) == 1
    mixed = cases([1, 2], Path("vtest.avi"))
    assert mixed[-1] == Case("mix x2", (demo[0].sources[0], "vtest.avi"))
