"""The library's progress calls become tqdm bars on the command line; --quiet draws none."""
from app.cli.progress import Bars, bars
from centernet.progress import Task, counted, no_progress


def test_bars_follow_the_counts_and_nested_ones_are_cleared_when_done(capsys):
    draw = Bars()
    job, clip = Task("all inputs", 4, "frame"), Task("clip", 4, "frame", nested=True)
    draw(job, 0)
    draw(clip, 0)
    assert abs(draw.open[clip].pos) == 1     # below the job's bar (tqdm keeps a set position negated)
    for n in range(1, 5):
        draw(clip, n, note=f"at {n}")
        draw(job, n)
    assert draw.open[job].n == 4 and draw.open[clip].postfix == "at 4"
    draw(clip, 4, finished=True)
    draw(job, 4, finished=True)
    assert not draw.open
    assert "all inputs: 100%" in capsys.readouterr().err


def test_bytes_are_scaled_and_quiet_draws_nothing(capsys):
    draw = Bars()
    task = Task("model.pth", 3 * 1024 * 1024, "B")
    draw(task, 1024 * 1024)
    draw(task, 3 * 1024 * 1024, finished=True)
    assert "3.00M/3.00M" in capsys.readouterr().err
    assert bars(quiet=True) is no_progress and isinstance(bars(quiet=False), Bars)


def test_counted_reports_each_item_and_the_end_even_when_the_loop_stops_early():
    calls = []
    task = Task("eval", 3, "img")
    for item in counted([1, 2, 3], lambda t, done, **kw: calls.append((done, kw.get("finished", False))), task):
        if item == 2:
            break
    assert calls == [(0, False), (1, False), (1, True)]
