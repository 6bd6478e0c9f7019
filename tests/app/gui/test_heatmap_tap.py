"""The GUI's heatmap tap stays out of CUDA-graph captures: a graph engine's model (run only to warm up
and capture) is not hooked, so the heatmap of such an engine comes from `compute`."""
from types import SimpleNamespace

from torch import nn

from app.gui.heatmap import HeatmapTap


def _detector(mode):
    """A detector whose backend runs its engine's prepared model per frame (eager), or none (a graph replays)."""
    engine = SimpleNamespace(mode=mode, model=nn.Identity())
    per_frame = () if mode == "graph" else (engine.model,)
    return SimpleNamespace(engine=engine, backend=SimpleNamespace(hook_modules=lambda: per_frame), model=nn.Identity())


def test_a_graph_engines_model_is_not_hooked_an_eager_ones_is():
    tap = HeatmapTap()
    graph = _detector("graph")
    tap.attach(graph)
    assert not graph.engine.model._forward_hooks and len(graph.model._forward_hooks) == 1
    eager = _detector("eager")
    tap.attach(eager)
    assert not graph.model._forward_hooks  # detached from the previous detector
    assert len(eager.engine.model._forward_hooks) == 1 and len(eager.model._forward_hooks) == 1
