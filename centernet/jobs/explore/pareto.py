"""Speed/accuracy trade-offs: the Pareto front of (FPS, accuracy) points and its plot.

    front = pareto_front([(fps, ap), ...])          # indices, fastest last
    plot_pareto([Panel("box AP vs ground truth", "box AP (%)", points)], "pareto.png")

A point is Pareto-optimal when no other point is at least as fast and at least as accurate, and
strictly better in one of the two. The plot puts FPS on a log axis, one colour per arch, a label on
every point, and draws each panel's front as a staircase (the best accuracy you can get at or above
a given speed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (larger x and larger y are better), sorted by x."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    front, best_y = [], float("-inf")
    for i in order:  # fastest first: a point is kept when it beats every faster one on accuracy
        x, y = points[i]
        if y > best_y:
            front.append(i)
            best_y = y
    # exact duplicates of a kept point are as good as it: keep them too
    kept = set(front)
    for i in range(len(points)):
        if i not in kept and any(points[i] == points[j] for j in kept):
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1]))


@dataclass(frozen=True)
class PlotPoint:
    fps: float
    value: float          # accuracy in percent
    label: str            # short configuration text, written beside the point
    series: str           # the model (legend entry)
    arch: str             # picks the colour
    random_weights: bool = False


@dataclass(frozen=True)
class ReferencePoint:
    """A published number drawn as its own marked series (e.g. the paper's, on another GPU)."""

    fps: float
    value: float
    label: str


@dataclass
class Panel:
    title: str
    ylabel: str
    points: list[PlotPoint] = field(default_factory=list)
    references: list[ReferencePoint] = field(default_factory=list)
    reference_name: str = ""
    front_per_series: bool = False  # one front per model (when accuracy is relative to each model)


# a qualitative palette with enough distinct, print-safe colours (tab10 without grey)
ARCH_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                "#17becf", "#393b79", "#637939", "#843c39")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")


def arch_colours(archs) -> dict[str, str]:
    return {a: ARCH_COLOURS[i % len(ARCH_COLOURS)] for i, a in enumerate(sorted(set(archs)))}


def plot_pareto(panels: list[Panel], path_png: Path, path_svg: Path | None = None, title: str = "",
                subtitle: str = "") -> None:
    """Draw one axis per panel (side by side, or 2 x 2 for three); write PNG (and SVG)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    panels = [p for p in panels if p.points or p.references] or [Panel("no results", "accuracy (%)")]
    colours = arch_colours(pt.arch for p in panels for pt in p.points)
    series_marker: dict[str, str] = {}
    for p in panels:
        for pt in p.points:
            if pt.series not in series_marker:
                used = sum(1 for s in series_marker if _arch_of(s, panels) == pt.arch)
                series_marker[pt.series] = MARKERS[used % len(MARKERS)]

    with plt.style.context("default"):
        # one or two panels side by side, legend below; three in a 2 x 2 grid, legend in the fourth cell
        grid = (1, len(panels)) if len(panels) <= 2 else (2, 2)
        width = 7.4 * grid[1]
        height = 5.0 * grid[0] + (1.5 if grid[0] == 1 else 1.0)
        fig, axes = plt.subplots(*grid, figsize=(width, height), squeeze=False)
        flat = list(axes.flat)
        for ax, panel in zip(flat, panels):
            _draw_panel(ax, panel, colours, series_marker)
        handles = [Line2D([], [], linestyle="none", marker=series_marker[s], markersize=8,
                          markerfacecolor=colours[_arch_of(s, panels)] if not _random(s, panels) else "white",
                          markeredgecolor=colours[_arch_of(s, panels)], markeredgewidth=1.6, label=s)
                   for s in series_marker]
        if any(p.references for p in panels):
            name = next(p.reference_name for p in panels if p.references)
            handles.append(Line2D([], [], linestyle="none", marker="*", markersize=13, markerfacecolor="#222222",
                                  markeredgecolor="white", label=name))
        handles.append(Line2D([], [], color="#555555", linestyle="--", linewidth=1.4,
                              label="Pareto front (per model where accuracy is relative to it)"
                              if any(p.front_per_series for p in panels) else "Pareto front"))
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=11, markerfacecolor="none",
                              markeredgecolor="#222222", markeredgewidth=1.4, label="Pareto-optimal"))
        top = 1.0 - (0.45 + (0.22 if subtitle else 0.0)) / height
        if title:
            fig.text(0.5, 1.0 - 0.25 / height, title, ha="center", va="center", fontsize=13, fontweight="bold")
        if subtitle:
            fig.text(0.5, 1.0 - 0.5 / height, subtitle, ha="center", va="center", fontsize=9, color="#555555")
        if len(flat) > len(panels):
            spare = flat[len(panels)]
            spare.axis("off")
            spare.legend(handles=handles, loc="center", frameon=False, fontsize=10, title="legend",
                         title_fontproperties={"weight": "bold"})
            fig.tight_layout(rect=(0, 0, 1, top))
        else:
            ncol = min(3, len(handles))
            rows = (len(handles) + ncol - 1) // ncol
            fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, fontsize=9,
                       bbox_to_anchor=(0.5, 0.01))
            fig.tight_layout(rect=(0, (0.28 * rows + 0.15) / height, 1, top))
        _place_labels(fig, flat[:len(panels)], panels)
        fig.savefig(Path(path_png), dpi=150)
        if path_svg is not None:
            fig.savefig(path_svg)
        plt.close(fig)


def _arch_of(series: str, panels: list[Panel]) -> str:
    return next(pt.arch for p in panels for pt in p.points if pt.series == series)


def _random(series: str, panels: list[Panel]) -> bool:
    return next(pt.random_weights for p in panels for pt in p.points if pt.series == series)


def _draw_panel(ax, panel: Panel, colours: dict, series_marker: dict) -> None:
    pts = panel.points
    xs = [p.fps for p in pts] + [r.fps for r in panel.references]
    ys = [p.value for p in pts] + [r.value for r in panel.references]
    groups: dict = {}
    for i, p in enumerate(pts):
        groups.setdefault(p.series if panel.front_per_series else "", []).append(i)
    for key, members in groups.items():
        front = [members[j] for j in pareto_front([(pts[i].fps, pts[i].value) for i in members])]
        colour = colours[pts[members[0]].arch] if panel.front_per_series else "#555555"
        if len(front) > 1:
            ax.plot([pts[i].fps for i in front], [pts[i].value for i in front], drawstyle="steps-pre", color=colour,
                    linestyle="--", linewidth=1.4, alpha=0.85, zorder=2)
        for i in front:
            ax.scatter([pts[i].fps], [pts[i].value], s=170, facecolors="none", edgecolors="#222222",
                       linewidths=1.4, zorder=3)
    for p in pts:
        c = colours[p.arch]
        ax.scatter([p.fps], [p.value], s=55, marker=series_marker[p.series], zorder=4,
                   facecolors="white" if p.random_weights else c, edgecolors=c, linewidths=1.6)
    for r in panel.references:
        ax.scatter([r.fps], [r.value], s=220, marker="*", color="#222222", edgecolors="white", linewidths=0.8,
                   zorder=5)
    ax.set_xscale("log")
    ax.set_xlabel("frames per second (log scale)")
    ax.set_ylabel(panel.ylabel)
    ax.set_title(panel.title, fontsize=11)
    ax.grid(True, which="major", color="#dddddd", linewidth=0.8)
    ax.grid(True, which="minor", color="#f0f0f0", linewidth=0.5)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if xs:
        lo, hi = min(xs), max(xs)
        ax.set_xlim(lo / 1.6, hi * 1.9)  # room for labels on the right
        ylo, yhi = min(ys), max(ys)
        pad = max(2.0, 0.12 * (yhi - ylo))
        bottom = ylo - pad if ylo - pad > 0 else -0.04 * (yhi - min(ylo, 0.0) + pad)  # AP is never below 0
        ax.set_ylim(bottom, min(104.0, yhi + pad) if yhi <= 100 else yhi + pad)
    from matplotlib.ticker import FuncFormatter, NullFormatter
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    narrow = bool(xs) and max(xs) / min(xs) < 30
    ax.xaxis.set_minor_formatter(FuncFormatter(_minor_tick) if narrow else NullFormatter())
    ax.tick_params(axis="x", which="minor", labelsize=7.5, labelcolor="#666666")
    ax._pareto_labels = ([(p.fps, p.value, p.label, "#333333", False) for p in pts]
                         + [(r.fps, r.value, r.label, "#000000", True) for r in panel.references])


def _minor_tick(v: float, _pos=None) -> str:
    """Label minor ticks 2, 3 and 5 (x 10^n) only: enough to read values on a narrow log axis."""
    if v <= 0:
        return ""
    mantissa = v / 10 ** math.floor(math.log10(v))
    return f"{v:.3g}" if round(mantissa) in (2, 3, 5) else ""


def _place_labels(fig, axes, panels) -> None:
    """Write every point's label beside it, trying a few offsets so labels do not overlap."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    offsets = [(6, 5, "left", "bottom"), (6, -5, "left", "top"), (-6, 5, "right", "bottom"),
               (-6, -5, "right", "top"), (0, 10, "center", "bottom"), (0, -10, "center", "top"),
               (12, 16, "left", "bottom"), (12, -16, "left", "top"), (-12, 16, "right", "bottom"),
               (-12, -16, "right", "top")]
    for ax in axes:
        items = getattr(ax, "_pareto_labels", [])
        frame = ax.get_window_extent(renderer)
        marks = [ax.transData.transform((x, y)) for x, y, *_ in items]
        placed = []
        for x, y, text, colour, bold in items:
            style = dict(textcoords="offset points", fontsize=7.5, color=colour,
                         fontweight="bold" if bold else "normal", zorder=6)
            best = None
            for rank, (dx, dy, ha, va) in enumerate(offsets):
                ann = ax.annotate(text, (x, y), xytext=(dx, dy), ha=ha, va=va, **style)
                box = ann.get_window_extent(renderer).padded(2)
                ann.remove()
                hits = (sum(box.overlaps(b) for b in placed) + sum(box.contains(mx, my) for mx, my in marks)
                        + 2 * (not (frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1))))
                if best is None or hits < best[0]:
                    best = (hits, rank, (dx, dy, ha, va))
                if hits == 0:
                    break
            dx, dy, ha, va = best[2]
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), ha=ha, va=va, **style)
            placed.append(ann.get_window_extent(renderer).padded(2))
