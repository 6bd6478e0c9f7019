import math

import torch

from centernet.decode import ctdet_decode, ctdet_decode_batch


def gaussian_heatmap(h, w, cx, cy, sigma=1.5, peak_logit=3.0, floor_logit=-8.0):
    """Logits whose sigmoid is a Gaussian bump with its maximum at the integer cell nearest (cx, cy)."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    g = torch.exp(-((xs - round(cx)) ** 2 + (ys - round(cy)) ** 2) / (2 * sigma ** 2))
    return floor_logit + (peak_logit - floor_logit) * g


def test_peak_at_gaussian_center_decodes_to_exact_box():
    h, w, cx, cy, bw, bh = 32, 40, 17.3, 9.6, 6.0, 4.5
    hm = torch.full((1, 3, h, w), -10.0)
    hm[0, 2] = gaussian_heatmap(h, w, cx, cy)
    wh = torch.zeros(1, 2, h, w)
    reg = torch.zeros(1, 2, h, w)
    ix, iy = round(cx), round(cy)
    wh[0, :, iy, ix] = torch.tensor([bw, bh])
    reg[0, :, iy, ix] = torch.tensor([cx - ix, cy - iy])
    dets = ctdet_decode(hm, wh, reg, k=1)
    assert len(dets) == 1 and int(dets.labels[0]) == 2
    assert torch.allclose(dets.boxes[0], torch.tensor([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]), atol=1e-5)
    assert math.isclose(float(dets.scores[0]), 1 / (1 + math.exp(-3.0)), rel_tol=1e-6)


def test_lower_neighbour_of_a_higher_peak_is_dropped():
    hm = torch.full((1, 1, 8, 8), -6.0)
    hm[0, 0, 4, 4] = 2.0
    hm[0, 0, 4, 5] = 1.0  # inside the 3x3 window of the higher peak
    hm[0, 0, 1, 1] = 0.5  # an isolated, lower peak survives
    dets = ctdet_decode(hm, torch.ones(1, 2, 8, 8), k=100, heat_is_logits=True)
    centers = {(round(float((b[0] + b[2]) / 2)), round(float((b[1] + b[3]) / 2))) for b in dets.boxes}
    assert (4, 4) in centers and (1, 1) in centers and (5, 4) not in centers


def test_plateau_keeps_every_equal_pixel():
    hm = torch.full((1, 1, 6, 6), -6.0)
    hm[0, 0, 2, 2] = hm[0, 0, 2, 3] = 1.5
    dets = ctdet_decode(hm, torch.zeros(1, 2, 6, 6), k=100)
    top = dets.above(0.5)
    assert len(top) == 2
    assert sorted(round(float(b[0])) for b in top.boxes) == [2, 3]


def test_k_larger_than_the_map_returns_at_most_every_pixel():
    hm = torch.randn(1, 2, 3, 3)
    dets = ctdet_decode(hm, torch.ones(1, 2, 3, 3), k=1000)
    assert 1 <= len(dets) <= 18
    assert torch.all(dets.scores[:-1] >= dets.scores[1:])


def test_empty_heatmap_gives_no_detections():
    dets = ctdet_decode(torch.zeros(1, 80, 16, 16), torch.ones(1, 2, 16, 16), k=100, heat_is_logits=False)
    assert len(dets) == 0


def test_ltrb_boxes_are_distances_from_the_integer_peak():
    hm = torch.full((1, 1, 10, 10), -5.0)
    hm[0, 0, 3, 6] = 4.0
    wh = torch.zeros(1, 4, 10, 10)
    wh[0, :, 3, 6] = torch.tensor([1.0, 2.0, 3.0, 0.5])
    dets = ctdet_decode(hm, wh, None, k=1, box_mode="ltrb")
    assert torch.equal(dets.boxes[0], torch.tensor([5.0, 1.0, 9.0, 3.5]))


def test_batch_decodes_each_image_independently():
    hm = torch.full((2, 1, 8, 8), -5.0)
    hm[0, 0, 1, 1] = 3.0
    hm[1, 0, 6, 5] = 3.0
    out = ctdet_decode_batch(hm, torch.ones(2, 2, 8, 8), k=1)
    assert [tuple(round(float(v)) for v in d.boxes[0][:2] + 0.5) for d in out] == [(1, 1), (5, 6)]
