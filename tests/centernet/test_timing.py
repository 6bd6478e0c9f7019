"""The one timing helper: StageTimer per stage, median_ms over repeated calls."""
import time

from centernet.timing import StageTimer, median_ms


def test_median_ms_times_each_call_after_the_warmup_and_takes_the_median():
    calls = []

    def work():
        calls.append(None)
        time.sleep(0.2 if len(calls) == 4 else 0.002)   # one slow call among the timed ones

    ms = median_ms(work, n=5, warmup=2, device="cpu")
    assert len(calls) == 7 and 1.5 <= ms < 100       # the slow call is not the median


def test_stage_timer_adds_up_a_stage_entered_twice():
    timer = StageTimer("cpu")
    for _ in range(2):
        with timer("net"):
            time.sleep(0.002)
    assert timer.times["net"] >= 3.5
    timer.reset()
    assert timer.times == {}
