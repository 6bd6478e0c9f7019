"""Training logs: one CSV row per step, a JSON list of epochs, and a loss-curve PNG."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from centernet.io.writers.atomic import atomic_file, atomic_path

STEP_FIELDS = ("step", "epoch", "lr", "images_per_s")


class TrainLog:
    """`steps.csv` (losses per head per step), `log.json` (per epoch, with evaluations), `loss.png`."""

    def __init__(self, folder: Path, loss_names: tuple, resume: bool = False):
        self.folder = Path(folder)
        self.loss_names = ("loss", *loss_names)
        self.fields = (*STEP_FIELDS, *self.loss_names)
        self.steps_path = self.folder / "steps.csv"
        self.json_path = self.folder / "log.json"
        self.png_path = self.folder / "loss.png"
        self.epochs: list[dict] = []
        if resume and self.json_path.exists():
            self.epochs = json.loads(self.json_path.read_text())
        if not resume or not self.steps_path.exists():
            with open(self.steps_path, "w", newline="") as f:
                csv.writer(f).writerow(self.fields)

    def truncate_after(self, step: int) -> None:
        """Drop step rows past `step` (a resumed run redoes them) and epochs not finished by then."""
        rows = self.read_steps()
        with open(self.steps_path, "w", newline="") as f:
            w = csv.DictWriter(f, self.fields)
            w.writeheader()
            for r in rows:
                if int(r["step"]) <= step:
                    w.writerow({k: r.get(k, "") for k in self.fields})
        self.epochs = [e for e in self.epochs if e.get("step", 0) <= step]

    def add_step(self, row: dict) -> None:
        with open(self.steps_path, "a", newline="") as f:
            csv.DictWriter(f, self.fields).writerow({k: _fmt(row.get(k, "")) for k in self.fields})

    def add_epoch(self, record: dict) -> None:
        self.epochs = [e for e in self.epochs if e["epoch"] != record["epoch"]] + [record]
        with atomic_file(self.json_path) as f:
            f.write(json.dumps(self.epochs, indent=1))

    def read_steps(self) -> list[dict]:
        if not self.steps_path.exists():
            return []
        with open(self.steps_path, newline="") as f:
            return list(csv.DictReader(f))

    def plot(self) -> Path | None:
        """Loss per head against steps (log scale) and, when evaluated, AP against the epoch's last step."""
        rows = self.read_steps()
        if not rows:
            return None
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        steps = [int(r["step"]) for r in rows]
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        for name in self.loss_names:
            values = [float(r[name]) for r in rows if r.get(name) not in ("", None)]
            if values and len(values) == len(steps) and any(v > 0 for v in values):
                ax.plot(steps, values, label=name, linewidth=1.6 if name == "loss" else 1.0)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.grid(True, alpha=0.3)
        evals = [(e["step"], e["eval"]["AP"]) for e in self.epochs if isinstance(e.get("eval"), dict)
                 and "AP" in e["eval"]]
        if evals:
            ax2 = ax.twinx()
            ax2.plot([s for s, _ in evals], [a for _, a in evals], "ko--", label="AP")
            ax2.set_ylabel("AP")
            ax2.set_ylim(0, 1)
            ax2.legend(loc="upper center")
        ax.legend(loc="upper right", fontsize=8)
        ax.set_title("training loss")
        fig.tight_layout()
        with atomic_path(self.png_path) as tmp:
            fig.savefig(tmp, format="png")        # the temporary's name ends in .part, not .png
        plt.close(fig)
        return self.png_path


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return v
