import pickle
from pathlib import Path

import pytest
import torch

from centernet.models.checkpoint import clean_state_dict, guess_arch, load_checkpoint, read_checkpoint, save_checkpoint
from centernet.errors import CheckpointError
from tests.conftest import seeded_state_dict


def test_original_file_is_recognised_and_loads_strictly(seeded_checkpoint):
    model, info = load_checkpoint(seeded_checkpoint("ctdet", "res_18"))
    assert (info.arch, info.task, info.num_classes, info.format) == ("res_18", "ctdet", 80, "original")
    assert info.class_names[0] == "person"
    sd = seeded_state_dict("ctdet", "res_18")
    assert torch.equal(model.state_dict()["hm.2.bias"], sd["hm.2.bias"])


def test_module_prefix_from_data_parallel_is_stripped(seeded_checkpoint):
    _, info = load_checkpoint(seeded_checkpoint("ctdet", "res_18", prefix="module."))
    assert info.arch == "res_18"
    assert clean_state_dict({"module._orig_mod.a": 1}) == {"a": 1}


@pytest.mark.parametrize("task,arch", [("ctdet", "resdcn_18"), ("ctdet", "dla_34"), ("ctdet", "res_101"),
                                       ("ctdet", "resdcn_101"), ("ctdet", "hourglass"),
                                       ("multi_pose", "dla_34"), ("ddd", "dla_34")])
def test_arch_and_task_are_read_from_the_keys(task, arch):
    sd = seeded_state_dict(task, arch)
    assert guess_arch(sd.keys()) == arch
    info, _ = read_checkpoint_from_dict(sd)
    assert info.task == task


def read_checkpoint_from_dict(sd, tmp=Path("/tmp")):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.pth"
        torch.save({"epoch": 1, "state_dict": sd}, p)
        return read_checkpoint(p)


def test_wrong_arch_names_the_mismatch_and_what_the_file_looks_like(seeded_checkpoint):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(seeded_checkpoint("ctdet", "res_18"), arch="resdcn_18")
    msg = str(e.value)
    assert "missing" in msg and "conv_offset_mask" in msg and "ctdet res_18" in msg and "\n" not in msg


def test_wrong_task_is_refused_with_the_files_task(seeded_checkpoint):
    with pytest.raises(CheckpointError, match="ctdet res_18.*not multi_pose"):
        load_checkpoint(seeded_checkpoint("ctdet", "res_18"), task="multi_pose")


def test_wrong_head_width_and_missing_key_are_listed(tmp_path):
    sd = seeded_state_dict("ctdet", "res_18")
    sd["reg.2.weight"] = torch.zeros(3, 64, 1, 1)
    del sd["layer2.0.bn1.running_var"]
    path = tmp_path / "bad.pth"
    torch.save({"epoch": 1, "state_dict": sd}, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, arch="res_18", task="ctdet")
    msg = str(e.value)
    assert "layer2.0.bn1.running_var" in msg and "wrong shape" in msg
    # the reg head of width 3 is read as such, so the model built for it lacks the missing key only
    assert "missing 1" in msg


def test_truncated_file_gives_a_clear_error(seeded_checkpoint, tmp_path):
    data = seeded_checkpoint("ctdet", "res_18").read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        load_checkpoint(path)


class RunsCode:
    def __reduce__(self):
        import os
        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/centernet_pickle_ran")


def test_unsafe_pickle_is_refused_and_its_code_never_runs(tmp_path):
    MARKER.unlink(missing_ok=True)
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": RunsCode()}, path)
    MARKER.unlink(missing_ok=True)  # torch.save does not run it, but be sure
    with pytest.raises(CheckpointError, match="could run code"):
        load_checkpoint(path)
    assert not MARKER.exists()


def test_plain_pickle_file_is_refused_too(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(RunsCode()))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not MARKER.exists()


def test_our_format_round_trips_with_its_metadata(seeded_checkpoint, tmp_path):
    model, info = load_checkpoint(seeded_checkpoint("ctdet", "res_18"))
    path = tmp_path / "ours.pth"
    save_checkpoint(path, model, info)
    model2, info2 = load_checkpoint(path)
    assert info2.format == "ours" and info2.arch == "res_18" and info2.preprocess == info.preprocess
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model2.state_dict().values()))
    assert not list(tmp_path.glob("*.part"))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="folder"):
        load_checkpoint(tmp_path)


def test_text_file_is_not_a_checkpoint_rather_than_unsafe(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("hello, this is not a checkpoint")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(path)


def test_describe_counts_one_class_in_the_singular(seeded_checkpoint):
    from dataclasses import replace
    info, _ = read_checkpoint(seeded_checkpoint("ctdet", "res_18"))
    assert info.describe() == "ctdet res_18 (80 classes)"
    assert replace(info, class_names=("person",)).describe() == "ctdet res_18 (1 class)"   # MoveNet's one class
