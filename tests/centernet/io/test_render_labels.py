"""Labels of overlapping boxes stay readable: each is moved down (into its box) until it covers no earlier one."""
import numpy as np
import torch

from centernet.detections import Detections
from centernet.io.render import RenderOptions, color_for, draw_detections, place_label

LABELS_ONLY = RenderOptions(boxes=False, threshold=0.0)


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_a_label_goes_above_its_box_when_free_and_below_an_earlier_one_when_not():
    first = place_label((80, 14), (100, 50), (240, 400))
    assert first == (100, 36, 180, 50)            # above the box's top-left corner
    second = place_label((60, 14), (110, 52), (240, 400), [first])
    assert not overlap(first, second) and second[1] >= first[3]
    assert second[0] == 110                       # same column as its box: only moved down
    third = place_label((70, 14), (105, 48), (240, 400), [first, second])
    assert not any(overlap(third, r) for r in (first, second))


def test_labels_stay_inside_the_canvas():
    assert place_label((80, 14), (380, 5), (240, 400)) == (320, 0, 400, 14)
    bottom = place_label((80, 14), (10, 236), (240, 400), [(10, 222, 90, 236)])
    assert bottom[3] <= 240


def label_rows(img) -> list[int]:
    """Rows holding label pixels (the only thing drawn here is labels)."""
    return [int(y) for y in np.flatnonzero(img.any(axis=(1, 2)))]


def test_overlapping_boxes_draw_labels_in_separate_bands_of_pixels():
    boxes = torch.tensor([[100.0, 60.0, 220.0, 160.0], [104.0, 62.0, 200.0, 150.0], [98.0, 58.0, 210.0, 170.0]])
    dets = Detections(boxes, torch.tensor([0.9, 0.5, 0.31]), torch.tensor([0, 1, 2]))
    img = draw_detections(np.zeros((240, 400, 3), np.uint8), dets, ("bird", "cat", "dog"), LABELS_ONLY)
    rows = label_rows(img)
    # three labels of one line each, stacked: about three times one label's height, no row shared
    one = draw_detections(np.zeros((240, 400, 3), np.uint8), dets[:1], ("bird",), LABELS_ONLY)
    height = len(label_rows(one))
    assert len(rows) >= 3 * height - 2, (len(rows), height)
    # every label's background colour is still there in a full-width run (nothing painted over it)
    for label in range(3):
        colour = np.array(color_for(label), np.uint8)
        runs = (img == colour).all(axis=2).sum(axis=1)
        assert runs.max() >= 40, label
