"""The performance panel: its numbers stay readable at the width the default window gives it."""
from __future__ import annotations

from PyQt6.QtWidgets import QApplication, QLabel

from app.gui.latency_panel import LatencyPanel, chart_caption
from app.gui.theme import STYLE_SHEET


def test_metric_captions_are_not_clipped_at_the_default_windows_width(qtbot):
    QApplication.instance().setStyleSheet(STYLE_SHEET)
    try:
        panel = LatencyPanel()
        qtbot.addWidget(panel)
        panel.resize(900, 150)    # the default 1360 px window less the controls dock leaves it about 950 px
        panel.show()
        qtbot.waitExposed(panel)
        captions = [label for label in panel.findChildren(QLabel) if label.objectName() == "metricCaption"]
        assert len(captions) == 5
        clipped = [(c.text(), c.width(), c.sizeHint().width()) for c in captions if c.width() < c.sizeHint().width()]
        assert clipped == []
        assert panel.chart.width() > 0    # the chart gave up the room, and still shows
    finally:
        QApplication.instance().setStyleSheet("")


def test_the_chart_caption_is_shortened_where_it_would_be_cut():
    assert chart_caption(len, 100) == "ms per frame, stacked by stage"
    assert chart_caption(len, 20) == "ms per frame"


def test_the_panel_says_when_stage_times_are_of_runs_that_shared_the_cpu(qtbot):
    panel = LatencyPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    assert not panel.runs_note.isVisible()
    panel.set_runs_at_once(2)
    assert panel.runs_note.isVisible() and panel.runs_note.text().startswith("2 runs at once")
    panel.set_runs_at_once(1)
    assert not panel.runs_note.isVisible()
