"""DDP on CPU: two torchrun processes with the gloo backend train in lock step."""
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT


@pytest.mark.slow
def test_two_gloo_processes_run_two_steps_and_end_with_identical_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "tests" / "centernet" / "train" / "ddp_worker.py"), str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "batch 4 (2 x 2)" in r.stdout
    w0, w1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    saved = torch.load(tmp_path / "last.pth", weights_only=True)
    assert saved["train_state"]["step"] == 2 and "rank 0 step 2" in r.stdout and "rank 1 step 2" in r.stdout
    assert all(torch.equal(saved["state_dict"][k], w0[k]) for k in w0)  # rank 0 wrote what both ranks hold
    from centernet.models.build import build_model
    torch.manual_seed(317)  # the trainer's seed: the weights both ranks started from
    start = build_model("res_18", "ctdet", num_classes=3).state_dict()
    assert not torch.equal(start["hm.0.weight"], w0["hm.0.weight"])  # and they did train
