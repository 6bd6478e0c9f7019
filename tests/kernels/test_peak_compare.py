"""The top-K comparison the CUDA peak test uses, on the CPU: tie order and last-bit differences pass,
a missed peak, a wrong score or a duplicate fail."""
import torch

from tests.kernels.peak_compare import top_peak_problems

K = 30


def _tied_peaks():
    """Reference peak scores in 64 levels over 1200 pixels: about 19 pixels share each score, so the
    K-th score is tied across the cut."""
    gen = torch.Generator().manual_seed(0)
    ref = torch.randint(0, 64, (3, 20, 20), generator=gen).float() / 64
    scores, index = ref.flatten().topk(K)
    assert int((ref.flatten() == scores[-1]).sum()) > int((scores == scores[-1]).sum())  # tied across the cut
    return ref, scores, index


def test_torch_topk_any_order_of_ties_and_any_pick_at_the_cut_pass():
    ref, scores, index = _tied_peaks()
    flat = ref.flatten()
    assert top_peak_problems(scores, index, ref) == []
    order = sorted(range(K), key=lambda i: (-float(scores[i]), int(index[i])))  # the kernel's order: ties by index
    assert top_peak_problems(scores[order], index[order], ref) == []
    other = [int(i) for i in (flat == scores[-1]).nonzero().flatten() if int(i) not in set(index.tolist())][0]
    swapped = index.clone()
    swapped[-1] = other  # another pixel tied at the K-th score
    assert top_peak_problems(scores, swapped, ref) == []
    assert top_peak_problems(scores + 3e-8, index, ref) == []  # a last-bit difference in the sigmoid


def test_a_missed_peak_a_wrong_score_or_a_duplicate_fail():
    ref, scores, index = _tied_peaks()
    flat = ref.flatten()
    lower = int((flat < scores[-1]).nonzero()[0])
    wrong_pixel = index.clone()
    wrong_pixel[0] = lower
    assert "a picked pixel is not a reference peak of its score" in top_peak_problems(scores, wrong_pixel, ref)
    wrong = scores.clone()
    wrong[3] += 0.01
    assert any("scores differ" in p for p in top_peak_problems(wrong, index, ref))
    twice = index.clone()
    twice[1] = twice[0]
    assert "a pixel is picked twice" in top_peak_problems(scores, twice, ref)
    dropped_top = torch.cat([index[1:], torch.tensor([lower])])
    problems = top_peak_problems(torch.cat([scores[1:], flat[lower:lower + 1]]), dropped_top, ref)
    assert "1 peak(s) above the K-th score were not picked" in problems
