"""tools/parallel_runs.py: every caller works at once on its own part of the frames; the table's ratios."""
import threading

from tools.parallel_runs import SETTINGS, Setting, format_table, frames_per_second


class Recording:
    """Records which frame each thread asked for, and the most calls under way at once."""

    def __init__(self):
        self.lock, self.running, self.most, self.seen = threading.Lock(), 0, 0, {}
        self.barrier = threading.Barrier(2, timeout=5)

    def __call__(self, frame):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            calls = self.seen.setdefault(threading.get_ident(), [])
            calls.append(frame)
        if len(calls) == 1:
            self.barrier.wait()   # the first call of each thread meets the other's: they overlap
        with self.lock:
            self.running -= 1


def test_two_callers_run_at_once_each_from_its_own_start():
    detector = Recording()
    fps = frames_per_second(detector, list(range(10)), callers=2, seconds=0.2)
    starts = sorted(calls[0] for calls in detector.seen.values())
    assert len(detector.seen) == 2 and starts == [0, 5] and detector.most == 2
    assert fps > 0


def test_the_table_reads_each_setting_against_one_caller_told_one():
    table = format_table({Setting(1, 1): 20.0, Setting(2, 1): 22.0, Setting(2, 2): 27.0, Setting(1, 2): 11.0})
    assert "| 1 caller, told 1 | 20.0 | 1.00x |" in table
    assert "| 2 callers, told 2 | 27.0 | 1.35x |" in table
    assert "| 1 caller, told 2 | 11.0 | 0.55x |" in table
    assert SETTINGS[0] == Setting(1, 1)   # the baseline comes first
