import math

import pytest
import torch

from centernet.inference.decode import ctdet_decode, ctdet_decode_batch


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


# ---- multi_pose ---------------------------------------------------------------------------------

def _logit(p):
    return math.log(p / (1 - p))


def _person_heads(h=40, w=48):
    """A person centred at (20.4, 15.7), box 12 x 20 cells, 17 known joints; see the test for the twists."""
    ix, iy, off = 20, 16, (0.4, -0.3)
    hm = gaussian_heatmap(h, w, ix, iy)[None, None]
    wh, reg = torch.zeros(1, 2, h, w), torch.zeros(1, 2, h, w)
    wh[0, :, iy, ix] = torch.tensor([12.0, 20.0])
    reg[0, :, iy, ix] = torch.tensor(off)
    truth = torch.tensor([[15.25 + (j % 5) * 2.5, 7.5 + (j // 5) * 4.5] for j in range(17)])
    error = torch.tensor([0.6, -0.4]).expand(17, 2).clone()
    error[11] = torch.tensor([5.0, 4.0])  # 6.4 cells from its peak: farther than 0.3 * 20 = 6
    hps = torch.zeros(1, 34, h, w)
    hps[0, :, iy, ix] = (truth + error - torch.tensor([ix, iy], dtype=torch.float32)).reshape(-1)
    hm_hp = torch.full((1, 17, h, w), -8.0)
    hp_offset = torch.zeros(1, 2, h, w)
    for j, (x, y) in enumerate(truth.tolist()):
        if j == 3:
            continue  # no peak for joint 3: it stays where regressed
        px, py = (44.5, y) if j == 7 else (x, y)  # joint 7's only peak lies outside the box
        cx, cy = int(px), int(py)
        hm_hp[0, j, cy, cx] = 2.0
        hp_offset[0, :, cy, cx] = torch.tensor([px - cx, py - cy])
    # joint 12 has a second, farther peak inside the box: the nearer one wins
    hm_hp[0, 12, 19, 18] = 2.5
    return (hm, wh, reg, hps, hm_hp, hp_offset), truth, truth + error


def test_person_joints_snap_to_their_peaks_except_where_the_original_rule_keeps_them():
    from centernet.inference.decode import multi_pose_decode
    heads, truth, regressed = _person_heads()
    dets = multi_pose_decode(*heads, k=100).above(0.5)
    assert len(dets) == 1 and int(dets.labels[0]) == 0
    assert torch.allclose(dets.boxes[0], torch.tensor([14.4, 5.7, 26.4, 25.7]), atol=1e-5)
    kps = dets.keypoints[0]
    stays = {3, 7, 11}  # no peak; peak outside the box; peak farther than 0.3 * max(w, h)
    for j in range(17):
        want = regressed[j] if j in stays else truth[j]
        assert torch.allclose(kps[j], want, atol=1e-5), (j, kps[j], want)
    peak = 1 / (1 + math.exp(-2.0))
    assert all(abs(float(dets.keypoint_scores[0, j]) - peak) < 1e-6 for j in range(17) if j not in stays)
    assert all(float(dets.keypoint_scores[0, j]) < 0.1 for j in stays)


def test_without_joint_heatmaps_joints_are_the_integer_centre_plus_hps():
    from centernet.inference.decode import multi_pose_decode
    (hm, wh, reg, hps, _, _), _, regressed = _person_heads()
    dets = multi_pose_decode(hm, wh, reg, hps, k=1)
    assert torch.allclose(dets.keypoints[0], regressed, atol=1e-5)


def test_weak_joint_peaks_are_ignored_by_the_threshold():
    from centernet.inference.decode import multi_pose_decode
    (hm, wh, reg, hps, hm_hp, hp_offset), truth, regressed = _person_heads()
    hm_hp[hm_hp == 2.0] = _logit(0.1)  # exactly the threshold: "score <= 0.1" peaks are dropped
    dets = multi_pose_decode(hm, wh, reg, hps, hm_hp, hp_offset, k=100).above(0.5)
    snapped_12 = torch.tensor([18.0, 19.0])  # only joint 12's extra peak (score 0.92) is left
    for j in range(17):
        want = snapped_12 if j == 12 else regressed[j]
        assert torch.allclose(dets.keypoints[0, j], want, atol=1e-5), j


# ---- ddd ----------------------------------------------------------------------------------------

def _rot_bins(alpha, first_bin):
    """8 rot values encoding alpha in bin 1 (angle - pi/2) or bin 2 (angle + pi/2)."""
    angle = alpha + math.pi / 2 if first_bin else alpha - math.pi / 2
    s, c = math.sin(angle), math.cos(angle)
    return [0.0, 2.0, s, c, 0.0, -1.0, 0.3, 0.9] if first_bin else [0.0, -1.0, 0.1, 0.7, 0.0, 2.0, s, c]


def _car_heads(h=24, w=80):
    hm = torch.full((1, 3, h, w), -9.0)
    dep, rot, dim = torch.zeros(1, 1, h, w), torch.zeros(1, 8, h, w), torch.zeros(1, 3, h, w)
    wh, reg = torch.zeros(1, 2, h, w), torch.zeros(1, 2, h, w)
    cars = [  # class, cell, offset, size, depth, dims, alpha, bin 1?, score
        (0, (30, 12), (0.25, 0.5), (8.0, 5.0), 20.0, (1.5, 1.6, 3.9), 0.3, True, 0.9),
        (1, (60, 10), (0.5, 0.0), (2.0, 6.0), 12.5, (1.8, 0.6, 0.9), 1.0, False, 0.6),
        (0, (10, 5), (0.0, 0.0), (4.0, 3.0), 40.0, (1.4, 1.5, 3.5), -2.5, True, 0.15),
    ]
    for cls, (x, y), off, size, depth, dims, alpha, first, score in cars:
        hm[0, cls, y, x] = _logit(score)
        dep[0, 0, y, x] = _logit(1 / (depth + 1) - 1e-6)
        rot[0, :, y, x] = torch.tensor(_rot_bins(alpha, first))
        dim[0, :, y, x] = torch.tensor(dims)
        wh[0, :, y, x] = torch.tensor(size)
        reg[0, :, y, x] = torch.tensor(off)
    return (hm, dep, rot, dim, wh, reg), cars


def test_car_decodes_to_its_depth_dims_angle_and_box():
    from centernet.inference.decode import ddd_decode
    heads, cars = _car_heads()
    dets = ddd_decode(*heads, k=100).above(0.01)
    assert len(dets) == 3
    for i, (cls, (x, y), off, size, depth, dims, alpha, _, score) in enumerate(cars):
        assert int(dets.labels[i]) == cls and abs(float(dets.scores[i]) - score) < 1e-5
        cx, cy = x + off[0], y + off[1]
        assert torch.allclose(dets.boxes[i], torch.tensor([cx - size[0] / 2, cy - size[1] / 2,
                                                           cx + size[0] / 2, cy + size[1] / 2]), atol=1e-5)
        assert abs(float(dets.depth[i]) - depth) < 2e-3 * depth
        assert torch.allclose(dets.dims[i], torch.tensor(dims))
        assert abs(float(dets.alpha[i]) - alpha) < 1e-5


def test_alpha_comes_from_the_bin_with_the_larger_second_logit_and_is_not_wrapped():
    from centernet.inference.decode import alpha_from_bins
    rot = torch.tensor([[0.0, 1.0, 0.0, -1.0, 0.0, 0.5, 0.0, 1.0],    # bin 1: atan2(0, -1) - pi/2
                        [0.0, 0.5, 0.0, 1.0, 0.0, 1.0, 0.0, -1.0]])   # bin 2: atan2(0, -1) + pi/2
    assert torch.allclose(alpha_from_bins(rot), torch.tensor([math.pi / 2, 1.5 * math.pi]))


def _naive_peaks(heat: torch.Tensor, k: int):
    """The straightforward decode (NCHW max-pool, class-major top-k), as the original writes it."""
    b, c, h, w = heat.shape
    masked = heat * (torch.nn.functional.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    scores, index = torch.topk(masked.reshape(b, -1), k)
    return scores, index


def test_peak_picking_is_the_same_for_both_memory_layouts_and_the_naive_decode():
    from centernet.inference.decode import peak_mask_scores, topk_peaks
    gen = torch.Generator().manual_seed(3)
    # scores quantised to 1/64: many plateaus and equal scores across classes
    heat = torch.randint(0, 64, (2, 7, 19, 23), generator=gen).float() / 64
    naive_scores, naive_index = _naive_peaks(heat, 60)
    for layout in (torch.contiguous_format, torch.channels_last):
        scores, classes, ys, xs, pixel = topk_peaks(peak_mask_scores(heat.contiguous(memory_format=layout)), 60)
        assert torch.equal(scores, naive_scores)
        flat = classes * (19 * 23) + ys * 23 + xs
        assert torch.equal(pixel, ys * 23 + xs)
        for i in range(2):  # same peaks; among equal scores ordered by (class, pixel)
            cut = scores[i] > scores[i, -1]  # ties at the K-th place may pick different members
            assert set(flat[i][cut].tolist()) == set(naive_index[i][cut].tolist())
            key = -scores[i].double() * 1e6 + flat[i].double()
            assert torch.equal(torch.argsort(key), torch.arange(60))


# ---- fixed-shape decoders (what a CUDA graph captures) ------------------------------------------

FIELDS = ("boxes", "scores", "labels", "keypoints", "keypoint_scores", "depth", "dims", "alpha")


def _random_heads(task, b=3, h=24, w=32, seed=0):
    """Heads of every kind for `task`, the second image with a nearly empty heatmap (few peaks above 0)."""
    gen = torch.Generator().manual_seed(seed)

    def r(c, scale=1.0):
        return torch.randn(b, c, h, w, generator=gen) * scale

    hm = r({"ctdet": 5, "multi_pose": 1, "ddd": 3}[task], 2.0) - 2
    hm[1] = -200.0  # sigmoid underflows to 0 (float32) but for one peak: most rows are non-peaks
    hm[1, 0, 3, 4] = 1.0
    if task == "ctdet":
        return {"hm": hm, "wh": r(2).abs() * 6, "reg": r(2).sigmoid()}
    if task == "multi_pose":
        return {"hm": hm, "wh": r(2).abs() * 6, "reg": r(2).sigmoid(), "hps": r(34, 3.0), "hm_hp": r(17, 2.0) - 2,
                "hp_offset": r(2).sigmoid()}
    return {"hm": hm, "dep": r(1), "rot": r(8), "dim": r(3).abs() + 1, "wh": r(2).abs() * 6, "reg": r(2).sigmoid()}


def _batch_decoder(task):
    from centernet.inference.decode import ddd_decode_batch, multi_pose_decode_batch
    return {"ctdet": lambda o, k, logits: ctdet_decode_batch(o["hm"], o["wh"], o["reg"], k, heat_is_logits=logits),
            "multi_pose": lambda o, k, logits: multi_pose_decode_batch(o["hm"], o["wh"], o["reg"], o["hps"],
                                                                       o["hm_hp"], o["hp_offset"], k,
                                                                       heat_is_logits=logits),
            "ddd": lambda o, k, logits: ddd_decode_batch(o["hm"], o["dep"], o["rot"], o["dim"], o["wh"], o["reg"],
                                                         k, heat_is_logits=logits)}[task]


def _as_probabilities(outputs):
    return {n: torch.sigmoid(t) if n in ("hm", "hm_hp") else t for n, t in outputs.items()}



@pytest.mark.parametrize("task", ["ctdet", "multi_pose", "ddd"])
@pytest.mark.parametrize("logits", [True, False])
def test_fixed_decoder_keeps_k_rows_per_image_and_splits_into_the_batch_decoders_result(task, logits):
    from centernet.inference.decode import decode_fixed
    outputs = _random_heads(task)
    if not logits:
        outputs = _as_probabilities(outputs)
    fixed = decode_fixed(task, outputs, k=40, heat_is_logits=logits)
    assert fixed.scores.shape == fixed.labels.shape == (3, 40) and fixed.boxes.shape == (3, 40, 4)
    present = {n for n in FIELDS if getattr(fixed, n) is not None}
    assert present == {"ctdet": {"boxes", "scores", "labels"},
                       "multi_pose": {"boxes", "scores", "labels", "keypoints", "keypoint_scores"},
                       "ddd": {"boxes", "scores", "labels", "depth", "dims", "alpha"}}[task]
    assert all(getattr(fixed, n).shape[:2] == (3, 40) for n in present)
    expected = _batch_decoder(task)(outputs, 40, logits)
    assert [len(d) for d in expected][1] < 40 <= len(expected[0])  # the nearly empty image drops rows
    for i, (got, want) in enumerate(zip(fixed.split(), expected)):
        for n in FIELDS:
            g, e = getattr(got, n), getattr(want, n)
            assert (g is None) == (e is None), n
            assert g is None or (torch.equal(g, e) and g.dtype == e.dtype), (i, n)
        assert torch.equal(fixed.scores[i] > 0, torch.arange(40) < len(want))  # zero-score rows trail: non-peaks


@pytest.mark.parametrize("task", ["ctdet", "multi_pose", "ddd"])
def test_fixed_decoder_decodes_each_image_of_a_batch_as_alone(task):
    from centernet.inference.decode import decode_fixed
    outputs = _random_heads(task, seed=1)
    batch = decode_fixed(task, outputs, k=25)
    for i in range(3):
        alone = decode_fixed(task, {n: t[i:i + 1] for n, t in outputs.items()}, k=25)
        for n, t in alone.tensors().items():
            assert torch.equal(t[0], getattr(batch, n)[i]), (i, n)


def test_fixed_decode_of_an_empty_heatmap_is_all_zero_scores_and_splits_to_nothing():
    from centernet.inference.decode import ctdet_decode_fixed
    fixed = ctdet_decode_fixed(torch.zeros(2, 80, 16, 16), torch.ones(2, 2, 16, 16), k=100, heat_is_logits=False)
    assert fixed.scores.shape == (2, 100) and not fixed.scores.any()
    assert [len(d) for d in fixed.split()] == [0, 0]


def test_unknown_box_mode_and_task_are_refused():
    from centernet.inference.decode import ctdet_decode_fixed, decode_fixed
    with pytest.raises(ValueError, match="box_mode"):
        ctdet_decode_fixed(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 4), box_mode="xywh")
    with pytest.raises(ValueError, match="no decoder for task"):
        decode_fixed("seg", {"hm": torch.zeros(1, 1, 4, 4)})
