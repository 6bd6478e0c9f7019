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


def _frames(video, indices):
    import cv2
    cap = cv2.VideoCapture(str(video))
    out = []
    for i in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        out.append(cap.read()[1])
    return out


def _tapped(seeded_res18, frames):
    """The seeded model tapped as the window's stream runs it, each frame located as stream i's run."""
    from app.gui.live_adapter import TappedDetector
    from centernet.inference.config import DetectorConfig
    from centernet.inference.detector import Detector
    from tests.app.conftest import INPUT
    detector = Detector.from_config(DetectorConfig(weights=str(seeded_res18), device="cpu", engine="eager",
                                                   input_size=INPUT))
    tap = HeatmapTap()
    tap.attach(detector)
    tapped = TappedDetector(detector, tap)
    streams = {id(f): i for i, f in enumerate(frames)}
    tapped.locate = lambda image: streams.get(id(image))
    return detector, tap, tapped


def test_each_wanted_stream_keeps_the_heatmap_of_its_own_frame_in_a_padded_batch(seeded_res18, bikes):
    import numpy as np
    frames = _frames(bikes, (0, 120, 240))
    detector, tap, tapped = _tapped(seeded_res18, frames)
    tapped.want([0, 2])
    out = tapped.detect_batch(frames + [frames[-1]])      # padded as the frame path pads: the last frame again
    assert len(out) == 4 and set(tapped.heats) == {0, 2}   # stream 1 is not shown: no heatmap kept for it
    own = {i: tap.compute(detector, frames[i]) for i in (0, 2)}
    for i in (0, 2):
        np.testing.assert_allclose(tapped.heat_of(i), own[i], atol=1e-3)
    assert float(np.abs(own[0] - own[2]).max()) > 1e-2     # two frames, two different heatmaps
    tapped.want([1])
    assert set(tapped.heats) == set()                      # the others' are forgotten
    tapped(frames[1])
    np.testing.assert_allclose(tapped.heat_of(1), tap.compute(detector, frames[1]), atol=1e-3)


def test_two_workers_running_two_streams_at_once_each_keep_their_own_heatmap(seeded_res18, bikes):
    import threading
    import numpy as np
    frames = _frames(bikes, (10, 200))
    detector, tap, tapped = _tapped(seeded_res18, frames)
    tapped.want([0, 1])
    start = threading.Barrier(2)

    def worker(i):
        start.wait()
        for _ in range(6):
            tapped(frames[i])
    threads = [threading.Thread(target=worker, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for i in (0, 1):
        np.testing.assert_allclose(tapped.heat_of(i), tap.compute(detector, frames[i]), atol=1e-3)


def test_two_runs_of_one_stream_each_frame_is_drawn_with_its_own_heatmap_whichever_ended_last(seeded_res18, bikes):
    # as fast as the model goes two frames of one stream run at once and the later one may end first
    import numpy as np
    frames = _frames(bikes, (10, 200))
    detector, tap, tapped = _tapped(seeded_res18, frames)
    tapped.locate = lambda image: 0                        # both frames are stream 0's
    tapped.want([0])
    tapped(frames[1])                                      # the later frame's run ends first ...
    tapped(frames[0])                                      # ... then the earlier one's
    own = [tap.compute(detector, f) for f in frames]
    assert float(np.abs(own[0] - own[1]).max()) > 1e-2
    for i in (0, 1):
        np.testing.assert_allclose(tapped.heat_of(0, frames[i]), own[i], atol=1e-3)
    np.testing.assert_allclose(tapped.heat_of(0), own[0], atol=1e-3)   # no frame named: the newest run's
    tapped(frames[1])
    tapped(frames[1].copy())                               # a third run: only the newest two are kept
    assert len(tapped.heats[0]) == 2
    np.testing.assert_allclose(tapped.heat_of(0, frames[0]), own[1], atol=1e-3)   # frame 0's let go: the newest
