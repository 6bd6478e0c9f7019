"""The one-slot mailbox: the latest item wins, replaced items are counted (moved here from the window's worker)."""
from __future__ import annotations

import threading

from centernet.live.mailbox import Mailbox


def test_mailbox_keeps_only_the_newest_item_and_counts_the_replaced():
    box = Mailbox(threading.Condition())
    for i in range(5):
        box.put(i)
    assert box.replaced == 4 and not box.empty and box.peek() == 4
    assert box.take() == 4 and box.empty and box.take() is None
