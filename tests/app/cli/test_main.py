"""The `gui` command is registered and the CLI imports Qt only when it runs."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_cli_does_not_import_qt_until_gui_runs():
    code = ("import sys, app.cli.main as c, app.cli.gui as g; p = c.build_parser(); "
            "a = p.parse_args(['gui', '--source', 'x.mp4', '--weights', 'w.pth', '--threshold', '0.4', '--headless', "
            "'--max-seconds', '2']); "
            "assert a.func is g.run and a.source == 'x.mp4' and a.threshold == 0.4 and a.headless; "
            "assert not any(m.startswith(('PyQt6', 'app.gui')) for m in sys.modules), "
            "[m for m in sys.modules if m.startswith(('PyQt6', 'app.gui'))]")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_app_never_imported_by_the_library():
    for path in (ROOT / "centernet").rglob("*.py"):
        text = path.read_text()
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith(("import app", "from app")) or "PyQt" in stripped and "import" in stripped:
                raise AssertionError((path, line))


def test_gui_help_gives_its_own_precision_default_and_detect_keeps_fp32():
    def precision_help(command: str) -> str:
        proc = subprocess.run([sys.executable, str(ROOT / "main.py"), command, "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        text = " ".join(proc.stdout.split("options:", 1)[1].split())    # the options, past the usage lines
        return text[text.index("--precision {"):].split(" --", 1)[0]

    assert precision_help("gui").endswith("default: auto") and "fp32 (default" not in precision_help("gui")
    assert precision_help("detect").endswith("default: fp32")


def test_a_usage_error_is_one_line_that_names_the_flag_and_where_help_is():
    for argv, named in ((["gui", "--threshold", "abc"], "--threshold"), (["detect"], "inputs"),
                        (["nosuch"], "invalid choice")):
        proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *argv], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, (argv, proc.stderr)
        assert named in lines[0] and lines[0].endswith("--help)") and "usage:" not in proc.stderr, lines
