"""`weights inspect` / `convert` / `list`: what a file is, the closest layout when it does not load,
and conversions that round-trip exactly."""
import json
import math
import os
import subprocess
import sys

import pytest
import torch

from centernet.models.checkpoint import read_checkpoint, read_file
from app.cli.main import main
from centernet.errors import CheckpointError, ConfigError
from centernet.models.inspection import closest_configs, convert_file, inspect_file
from centernet.models.zoo import DEFAULT_MODELS, record_file, sha256_file
from tests.conftest import ROOT, layout_manifest, seeded_state_dict

ZOO_LAYOUTS = [("ctdet", "res_18"), ("ctdet", "resdcn_18"), ("ctdet", "res_101"), ("ctdet", "resdcn_101"),
               ("ctdet", "dla_34"), ("ctdet", "hourglass"), ("multi_pose", "dla_34"), ("multi_pose", "hourglass"),
               ("ddd", "dla_34")]
CLASSES = {"ctdet": 80, "multi_pose": 1, "ddd": 3}


def run_cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


def save(tmp_path, name, state_dict):
    path = tmp_path / name
    torch.save({"epoch": 3, "state_dict": state_dict}, path)
    return path


def layout_file(folder, task, arch):
    """A file with exactly the zoo layout's keys, shapes and dtypes, every tensor a view of one shared
    buffer: a few MB where the seeded hourglass takes 765 MB, and inspect reads only names and shapes."""
    keys = layout_manifest(task, arch)["keys"]
    floats = torch.randn(max(math.prod(shape) for _, shape, dtype in keys if dtype == "float32"))
    ints = torch.zeros(max([math.prod(shape) for _, shape, dtype in keys if dtype == "int64"] + [1]), dtype=torch.int64)
    sd = {name: (ints if dtype == "int64" else floats)[: math.prod(shape)].view(shape) for name, shape, dtype in keys}
    path = folder / f"{task}_{arch}.pth"
    torch.save({"epoch": 1, "state_dict": sd}, path)
    return path


@pytest.mark.parametrize("task,arch", ZOO_LAYOUTS)
def test_inspect_names_arch_and_task_of_every_zoo_layout(tmp_path, task, arch):
    path = layout_file(tmp_path, task, arch)
    assert path.stat().st_size < 2 * sum(math.prod(shape) for _, shape, _ in layout_manifest(task, arch)["keys"])
    report = inspect_file(path)
    assert (report.task, report.arch, report.format, report.loads) == (task, arch, "original", True)
    assert report.num_classes == CLASSES[task] and report.error is None and report.layout_notes == []
    assert report.input_size == ((384, 1280) if task == "ddd" else (512, 512))
    assert report.tensors == len(layout_manifest(task, arch)["keys"])


def test_a_layout_file_inspects_like_the_seeded_file_it_stands_for(seeded_checkpoint, tmp_path):
    seeded = inspect_file(seeded_checkpoint("ctdet", "dla_34")).to_dict()
    layout = inspect_file(layout_file(tmp_path, "ctdet", "dla_34")).to_dict()
    differ = {k for k in seeded if seeded[k] != layout[k]}
    assert differ == {"path", "size", "sha256"}


def test_inspect_reports_parameters_sha256_and_the_cache_manifest_name(seeded_checkpoint, tmp_path, monkeypatch):
    path = seeded_checkpoint("ctdet", "res_18")
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path))
    (tmp_path / "ctdet_coco_res18.pth").write_bytes(path.read_bytes())
    record_file(tmp_path / "ctdet_coco_res18.pth", sha256_file(path))
    report = inspect_file(path)
    sd = seeded_state_dict("ctdet", "res_18")
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    params = sum(v.numel() for k, v in sd.items() if not k.endswith(buffers))
    assert report.parameters == params and report.tensors == len(sd)
    assert report.sha256 == sha256_file(path) and report.zoo_name == "ctdet_coco_res18.pth"
    assert report.class_names[0] == "person" and report.heads == {"hm": 80, "wh": 2, "reg": 2}


def test_head_of_the_wrong_width_is_named(tmp_path):
    sd = seeded_state_dict("ctdet", "res_18")
    sd["reg.2.weight"], sd["reg.2.bias"] = torch.zeros(3, 64, 1, 1), torch.zeros(3)
    report = inspect_file(save(tmp_path, "reg3.pth", sd), sha256=False)
    # the keys describe a consistent model with a 3-wide reg head: it loads, and the report says what is odd
    assert report.loads and report.heads["reg"] == 3
    notes = " ".join(report.layout_notes)
    assert "head reg is 3 wide, a ctdet model's is 2" in notes
    assert "reg.2.weight (3, 64, 1, 1) vs (2, 64, 1, 1)" in notes


def test_head_conv_mismatch_does_not_load_and_names_the_key_and_closest_layout(tmp_path):
    sd = seeded_state_dict("multi_pose", "dla_34")
    sd["hps.0.weight"], sd["hps.0.bias"] = torch.zeros(128, 64, 3, 3), torch.zeros(128)
    path = save(tmp_path, "bad.pth", sd)
    report = inspect_file(path, sha256=False)
    assert not report.loads and "hps.0.weight" in report.error and "wrong shape" in report.error
    assert report.error == _detect_error(path)  # the very error `detect` gives
    best = report.closest[0]
    assert (best.task, best.arch, best.wrong_shape, best.missing, best.unexpected) == ("multi_pose", "dla_34", 2, 0, 0)
    assert "multi_pose dla_34 (408 of 410 tensors fit: 2 wrong shape)" == best.describe()


def _detect_error(path, **kw):
    from centernet.models.checkpoint import load_checkpoint
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, **kw)
    return str(e.value)


def test_wrong_arch_asked_for_gives_the_detect_error_and_the_files_real_layout(seeded_checkpoint):
    path = seeded_checkpoint("ctdet", "resdcn_18")
    report = inspect_file(path, arch="res_18", sha256=False)
    assert not report.loads and report.error == _detect_error(path, arch="res_18")
    assert (report.closest[0].arch, report.closest[0].task, report.closest[0].score) == ("resdcn_18", "ctdet", 1.0)


def test_unknown_layout_gets_the_closest_arch_and_task(tmp_path):
    sd = seeded_state_dict("ddd", "dla_34")
    for key in [k for k in sd if k.startswith("base.level5.")]:
        del sd[key]  # no longer a full dla_34: strict loading must fail
    report = inspect_file(save(tmp_path, "cut.pth", sd), sha256=False)
    assert not report.loads and "missing" in report.error
    assert (report.closest[0].task, report.closest[0].arch) == ("ddd", "dla_34")


def test_closest_configs_without_any_known_key_is_empty():
    assert closest_configs({"foo.weight": torch.zeros(3)}) == []


def test_unreadable_file_raises_the_checkpoint_error(seeded_checkpoint, tmp_path):
    data = seeded_checkpoint("ctdet", "res_18").read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="truncated"):
        inspect_file(path)


def test_default_models_are_recognised_as_such():
    path = DEFAULT_MODELS["ctdet"]
    if not path.exists():
        pytest.skip(f"{path} is absent")
    report = inspect_file(path, sha256=False)
    assert (report.format, report.arch, report.task, report.loads) == ("default model", "mobilenetv3", "ctdet", True)
    assert report.dtypes == ("float16",)


def test_convert_round_trips_give_identical_tensors(seeded_checkpoint, tmp_path):
    src = seeded_checkpoint("ctdet", "resdcn_18")
    ours, info, _ = convert_file(src, "ours", tmp_path / "ours.pth")
    assert read_checkpoint(ours)[0].format == "ours" and info.arch == "resdcn_18"
    back, _, notes = convert_file(ours, "original", tmp_path / "back.pth")
    assert notes == []
    a, b = read_file(src)["state_dict"], read_file(back)["state_dict"]
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    assert set(torch.load(back, weights_only=True)) == {"epoch", "state_dict"}  # what the original code reads
    again, _, _ = convert_file(back, "ours", tmp_path / "again.pth")
    x, y = torch.load(ours, weights_only=True), torch.load(again, weights_only=True)
    assert all(torch.equal(x["state_dict"][k], y["state_dict"][k]) for k in x["state_dict"])
    assert {k: v for k, v in x.items() if k not in ("state_dict", "meta")} == \
        {k: v for k, v in y.items() if k not in ("state_dict", "meta")}


def test_convert_refuses_what_makes_no_sense(seeded_checkpoint, tmp_path):
    with pytest.raises(ConfigError, match="already in the original format"):
        convert_file(seeded_checkpoint("ctdet", "res_18"), "original", tmp_path / "x.pth")
    if DEFAULT_MODELS["ctdet"].exists():
        with pytest.raises(ConfigError, match="no mobilenetv3 arch"):
            convert_file(DEFAULT_MODELS["ctdet"], "original", tmp_path / "y.pth")
    assert not list(tmp_path.iterdir())


def test_cli_convert_default_output_name(seeded_checkpoint, tmp_path, capsys):
    src = tmp_path / "model.pth"
    src.write_bytes(seeded_checkpoint("ctdet", "res_18").read_bytes())
    assert main(["weights", "convert", str(src), "--to", "ours"]) == 0
    assert (tmp_path / "model_ours.pth").exists() and "ctdet res_18" in capsys.readouterr().out


def test_weights_list_in_a_subprocess_marks_cached_files(tmp_path):
    (tmp_path / "ctdet_coco_dla_2x.pth").write_bytes(b"x" * 10)
    record_file(tmp_path / "ctdet_coco_dla_2x.pth", "0" * 64)
    (tmp_path / "ddd_sub.pth.part").write_bytes(b"x" * 10)
    r = run_cli("weights", "list", env={"CENTERNET_HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    lines = {line.split()[0]: line for line in r.stdout.splitlines() if line.strip()}
    assert lines["ctdet_coco_dla_2x"].rstrip().endswith("yes")
    assert "37.4 / 39.2 / 41.7" in lines["ctdet_coco_dla_2x"] and "19 / 36 / 248" in lines["ctdet_coco_dla_2x"]
    assert "partial" in lines["ddd_sub"] and lines["ctdet_coco_hg"].rstrip().endswith("-")
    assert "centernet_mobilenetv3" in lines and "movenet_multipose" in lines and str(tmp_path) in r.stdout


def test_weights_inspect_in_a_subprocess(seeded_checkpoint):
    path = seeded_checkpoint("multi_pose", "dla_34")
    r = run_cli("weights", "inspect", path)
    assert r.returncode == 0, r.stderr
    fields = {line[:11].strip(): line[11:].strip() for line in r.stdout.splitlines()}
    assert fields["format"] == "original" and fields["arch"] == "dla_34" and fields["task"] == "multi_pose"
    assert fields["classes"] == "1 (person)" and fields["input size"].startswith("512x512")
    assert fields["sha256"] == sha256_file(path) and fields["loads"].startswith("yes")
    assert fields["parameters"].startswith("20.")


def test_weights_inspect_on_a_file_that_does_not_load_exits_2_with_one_error_line(seeded_checkpoint, capsys):
    path = seeded_checkpoint("ctdet", "res_18")
    assert main(["weights", "inspect", str(path), "--task", "ddd", "--json"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.count("\n") == 1 and "not ddd" in err
    report = json.loads(out)
    assert report["loads"] is False and (report["arch"], report["task"]) == ("res_18", "ctdet")
    assert (report["closest"][0]["arch"], report["closest"][0]["task"]) == ("res_18", "ctdet")
    assert main(["weights", "inspect", str(path), "--arch", "dla_34"]) == 2
    out, err = capsys.readouterr()
    assert "loads       no" in out and "closest     ctdet res_18 (150 of 150 tensors fit)" in out
    assert "checkpoint does not fit ctdet dla_34" in err
