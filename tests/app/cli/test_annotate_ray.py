"""`annotate --ray` and `--inputs-from` at the command line, without a Ray instance."""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.annotate_ray import format_summary, parse_ray_address
from app.cli.main import main
from centernet.jobs.annotate.result import InputResult, JobResult
from tests.conftest import ROOT

# run main.py with every `import ray` failing, as on a machine without the cluster extra
WITHOUT_RAY = """
import sys
class NoRay:
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
sys.meta_path.insert(0, NoRay())
sys.argv = ["main.py", *sys.argv[1:]]
from app.cli.main import main
sys.exit(main())
"""


def test_without_ray_installed_ray_says_how_to_install_it_in_one_line_and_exits_2(tmp_path):
    done = subprocess.run([sys.executable, "-c", WITHOUT_RAY, "annotate", str(ROOT / "assets/demo/bikes.mp4"),
                           "--ray", "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: --ray needs Ray, which is not installed: "
                                                "pip install 'centernet-live[cluster]'"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text", ["auto", "local", "ray://head:10001", "10.0.0.5:6379", "[::1]:6379"])
def test_ray_addresses_are_accepted(text):
    assert parse_ray_address(text) == text


def test_a_video_right_after_ray_is_refused_with_the_fix():
    with pytest.raises(argparse.ArgumentTypeError, match="put --ray after the videos"):
        parse_ray_address("clip.mp4")


def test_inputs_from_a_list_file_are_annotated_like_inputs_on_the_command_line(tmp_path):
    listing = tmp_path / "videos.txt"
    listing.write_text(f"# the demo, first 8 frames\n\n{ROOT / 'assets/demo/bikes.mp4'}\n")
    out = tmp_path / "out"
    assert main(["annotate", "--inputs-from", str(listing), "--out", str(out), "--format", "csv", "--end", "0.3s",
                 "--input-size", "128", "--device", "cpu", "--quiet"]) == 0
    assert json.loads((out / "bikes" / "summary.json").read_text())["frames"]["annotated"] == 8


def test_no_inputs_at_all_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("# nothing yet\n")
    assert main(["annotate", "--inputs-from", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "no input given" in capsys.readouterr().err


def one_video(frames: int) -> InputResult:
    counts = {"annotated": frames, "annotated_this_run": frames}
    return InputResult("a.mp4", Path("out/a"), True, summary={"frames": counts, "fps": 30.0})


def test_the_pool_summary_counts_its_workers_in_words_and_gives_a_rate_only_over_a_second_of_work():
    short = format_summary(JobResult([one_video(5)], workers=1, wall_s=6.5, startup_s=6.49)).splitlines()[-1]
    assert short == "1 of 1 videos annotated by 1 worker in 6.5 s (6.5 s starting them; then 5 new frames)"
    long = format_summary(JobResult([one_video(300), one_video(300)], workers=2, wall_s=14.0, startup_s=4.0))
    assert long.splitlines()[-1].endswith("by 2 workers in 14.0 s (4.0 s starting them; then 600 new frames at "
                                          "60.0 frames/s)")
