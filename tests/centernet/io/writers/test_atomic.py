"""Write-then-rename, written once: the target appears whole or not at all, and no temporary is left."""
import pytest

from centernet.io.writers.atomic import atomic_file, atomic_path


def test_the_target_appears_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "sub" / "model.pth"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
        assert tmp.parent == target.parent and tmp.name.endswith(".part") and not target.exists()
    assert target.read_bytes() == b"whole" and sorted(p.name for p in target.parent.iterdir()) == ["model.pth"]


def test_a_failed_block_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    for unique in (True, False):
        with pytest.raises(RuntimeError):
            with atomic_path(target, unique=unique) as tmp:
                tmp.write_bytes(b"half")
                raise RuntimeError("killed mid-write")
    with pytest.raises(RuntimeError):
        with atomic_file(target) as f:
            f.write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_writers_of_the_same_target_at_once_get_their_own_temporaries(tmp_path):
    target = tmp_path / "cache.onnx"
    with atomic_path(target) as a, atomic_path(target) as b:
        assert a != b
        a.write_bytes(b"a")
        b.write_bytes(b"b")
    assert target.read_bytes() == b"a" and [p.name for p in tmp_path.iterdir()] == ["cache.onnx"]
