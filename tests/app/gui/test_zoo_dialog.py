"""The model zoo dialog lists the original checkpoints; offline it says how to get them; a file that is
there is loaded with Use."""
from __future__ import annotations

import shutil

from centernet.models.zoo import ZOO


def test_zoo_lists_every_checkpoint_and_uses_one_that_is_here(make_window, qtbot, tmp_path, monkeypatch,
                                                               seeded_checkpoint):
    monkeypatch.setenv("CENTERNET_HOME", str(tmp_path / "zoo"))
    (tmp_path / "zoo").mkdir()
    window = make_window()
    dialog = window.show_zoo(check_online=False)
    assert dialog.table.rowCount() == len(ZOO)
    names = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert "ctdet_coco_dla_2x" in names and "multi_pose_dla_3x" in names

    dialog.set_online(False)
    row = names.index("ctdet_coco_resdcn18")
    dialog.table.selectRow(row)
    assert not dialog.download_button.isEnabled() and not dialog.use_button.isEnabled()
    assert "offline" in dialog.status.text()

    # put a file there by hand (the seeded resdcn_18 has the zoo file's layout)
    shutil.copy(seeded_checkpoint("ctdet", "resdcn_18"), tmp_path / "zoo" / "ctdet_coco_resdcn18.pth")
    dialog.refresh()
    dialog.table.selectRow(row)
    assert dialog.table.item(row, 6).text() == "✓" and dialog.use_button.isEnabled()
    with qtbot.waitSignal(window.pipeline.model_loading, timeout=5000) as blocker:
        dialog.use_button.click()
    assert blocker.args[0].weights.endswith("ctdet_coco_resdcn18.pth")
    qtbot.waitUntil(lambda: window.detector is not None, timeout=60000)
    assert window.detector.info.arch == "resdcn_18"


def test_zoo_table_is_not_cut_off(make_window, qtbot):
    window = make_window()
    dialog = window.show_zoo(check_online=False)
    qtbot.waitExposed(dialog)
    table = dialog.table
    header = table.horizontalHeader()
    visible = table.viewport().width()
    right_edge = header.sectionViewportPosition(header.count() - 1) + header.sectionSize(header.count() - 1)
    screen = dialog.screen().availableGeometry().width()
    if dialog.width() < screen - 41:      # room on the screen: the dialog is as wide as the columns
        assert right_edge <= visible + 1, (right_edge, visible)
        assert not table.horizontalScrollBar().isVisible()
    else:                                 # a narrow screen (offscreen: 800 px): as wide as it allows
        assert dialog.width() >= min(screen - 41, right_edge), (dialog.width(), screen)
    for column in range(header.count()):   # every column at least as wide as its contents
        assert header.sectionSize(column) >= table.sizeHintForColumn(column) - 1, column
