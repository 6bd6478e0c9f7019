"""A one-slot "latest wins" mailbox: never a queue, never a slow consumer holding up a fast producer."""
from __future__ import annotations

import threading


class Mailbox:
    """`put` replaces an item still waiting (counted in `replaced`); `take` empties the slot.

    The mailboxes of a pipeline share one condition, so a thread waits on all of its inputs at once (a
    model thread serving several streams waits on every stream's mailbox)."""

    def __init__(self, cond: threading.Condition):
        self.cond = cond
        self._item = None
        self.replaced = 0

    def put(self, item) -> None:
        with self.cond:
            if self._item is not None:
                self.replaced += 1
            self._item = item
            self.cond.notify_all()

    def take(self):
        """The waiting item, or None."""
        with self.cond:
            item, self._item = self._item, None
            if item is not None:
                self.cond.notify_all()   # a producer pacing itself on an empty slot may go on
            return item

    def peek(self):
        return self._item

    @property
    def empty(self) -> bool:
        return self._item is None
