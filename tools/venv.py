"""Run a command in the project's virtual environment, creating or updating it first.

    python3 tools/venv.py main.py          # the demo
    python3 tools/venv.py -m pytest        # the tests

The venv lives in .venv; it is (re)installed only when setup.cfg or pyproject.toml changed since the
last install, so the second run starts at once. Needs only python3.
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
NO_DEPS_PACKAGES = ("trackeval>=1.3",)  # `track-eval`; see ensure_venv


def requirements_hash() -> str:
    h = hashlib.sha256()
    for name in ("setup.cfg", "pyproject.toml"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def ensure_venv() -> None:
    wanted = requirements_hash()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not PYTHON.exists():
        print(f"creating {VENV} ...", file=sys.stderr, flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    print("installing dependencies (first run only; torch is large) ...", file=sys.stderr, flush=True)
    subprocess.check_call([str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           "-e", f"{ROOT}[dev]"], cwd=ROOT)
    # without their declared dependencies: trackeval's metrics need only numpy and scipy, but its wheel asks for
    # opencv-python, which would replace the headless OpenCV the Qt app needs (both install a `cv2`)
    subprocess.check_call([str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                           *NO_DEPS_PACKAGES], cwd=ROOT)
    STAMP.write_text(wanted)


def main() -> int:
    ensure_venv()
    os.chdir(ROOT)
    os.execv(str(PYTHON), [str(PYTHON), *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
