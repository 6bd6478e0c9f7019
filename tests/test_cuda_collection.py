"""`pytest -m cuda` collects on a machine without the optional packages (the lent GPU machine has no
PyQt6, pytest-qt, pycocotools, openvino or ray): a test module that imports one at its top is
skipped with the reason instead of aborting the collection. Checked here with those packages made
unimportable, so the mistake fails CI rather than the rare GPU run."""
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

ABSENT_ON_THE_GPU_MACHINE = ("PyQt6", "pytestqt", "pycocotools", "openvino", "ray")

BLOCKER = textwrap.dedent('''
    import sys

    BLOCKED = {blocked!r}


    class Blocker:
        """Makes the packages unimportable, as if not installed."""

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None


    sys.meta_path.insert(0, Blocker())
''')


@pytest.mark.slow
def test_cuda_tests_collect_without_the_optional_packages(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER.format(blocked=set(ABSENT_ON_THE_GPU_MACHINE)))
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen",
           "HOME": str(tmp_path)}
    probe = subprocess.run([sys.executable, "-c", "import PyQt6"], env=env, capture_output=True, text=True)
    assert "No module named 'PyQt6'" in probe.stderr  # the blocker works
    # pytest-qt is not installed there: its plugin is not loaded (here it is installed, so turned off)
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "cuda", "-n", "0",
                          "-p", "no:pytest-qt", "-p", "no:cacheprovider", "-rs"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "tests/kernels/test_kernels_cuda.py" in out or "no CUDA GPU" in out
    assert "test_cuda_graph.py" in out
    assert "needs PyQt6" in out  # the GUI tests: skipped, with the reason


def test_the_shared_data_folder_can_be_given_by_environment(monkeypatch, tmp_path):
    from tests.conftest import shared_folder
    monkeypatch.setenv("CENTERNET_TEST_SHARED", str(tmp_path))
    assert shared_folder() == tmp_path.resolve()
    monkeypatch.delenv("CENTERNET_TEST_SHARED")
    assert shared_folder().name == "shared"
