"""Make tests/data/default_models/*.json: the TF.js graphs' numbers on real images, for the port tests.

    mkdir -p /tmp/tfjsref && (cd /tmp/tfjsref && npm install @tensorflow/tfjs@4.22.0)
    python tools/make_default_model_refs.py --package /tmp/hm/package   # (npm pack + tar xzf)

Each image is pre-processed with the shipped checkpoint's own PreprocessSpec (at the sizes below),
the NHWC float32 input is written to a temp dir, and tools/tfjs_reference.mjs runs the package's
graph on exactly that tensor with @tensorflow/tfjs's pure-JS CPU backend. Stored per image: the
input's checksum, head values at fixed random probes, per-channel sums, the graph's decoded output
(`tower_0/detections`, MoveNet's `Identity`), and for information the largest difference between
our port and the graph over the whole head maps at the time the file was made.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from centernet.models.checkpoint import load_checkpoint  # noqa: E402
from centernet.geometry.transforms import preprocess  # noqa: E402
from centernet.models.zoo import DEFAULT_MODELS  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
IMAGES = ["images/bus.jpg", "images/zidane.jpg", "coco_mini/val2017/000000350679.jpg"]
OUT = ROOT / "tests" / "data" / "default_models"
PROBES = 48  # per head and image
MN = "StatefulPartitionedCall"

MODELS = {
    "centernet": {
        "checkpoint": DEFAULT_MODELS["ctdet"], "graph": "centernet.json", "dtype": "float32", "sizes": [512],
        "heads": {"hm": "tower_0/CenternetHead/centernet_cls_output/BiasAdd", "wh": "tower_0/wh"},
        "scale": {"wh": 0.25},  # graph wh is in input pixels, ours in output cells
        "decoded": "tower_0/detections",
    },
    "movenet": {
        "checkpoint": DEFAULT_MODELS["multi_pose"], "graph": "movenet-multipose.json", "dtype": "int32",
        "sizes": [256, 384],
        "heads": {"center": f"{MN}/center_0/conv2d_4/BiasAdd", "box_scale": f"{MN}/box_scale_0/conv2d_5/BiasAdd",
                  "box_offset": f"{MN}/box_offset_0/conv2d_6/BiasAdd",
                  "kpt_heatmap": f"{MN}/kpt_heatmap_0/conv2d_7/BiasAdd",
                  "kpt_regress": f"{MN}/kpt_regress_0/conv2d_8/BiasAdd",
                  "kpt_offset": f"{MN}/kpt_offset_0/conv2d_9/BiasAdd"},
        "scale": {}, "decoded": "Identity",
    },
}


def input_checksum(x: torch.Tensor) -> dict:
    a = x.double()
    return {"sum": float(a.sum()), "sum_sq": float((a * a).sum()), "shape": list(x.shape)}


def run_graph(package: Path, model: dict, inputs: list[torch.Tensor], size: int, tmp: Path) -> list[dict]:
    names = list(model["heads"].values()) + [model["decoded"]]
    files = []
    for i, x in enumerate(inputs):
        path = tmp / f"in{i}.bin"
        x[0].permute(1, 2, 0).contiguous().numpy().astype("<f4").tofile(path)
        files.append(str(path))
    out_dir = tmp / "out"
    env = {**os.environ, "TFJS_DIR": os.environ.get("TFJS_DIR", "/tmp/tfjsref")}
    subprocess.run(["node", str(ROOT / "tools" / "tfjs_reference.mjs"), str(package / "models" / model["graph"]),
                    model["dtype"], str(size), str(size), str(out_dir), ",".join(names), *files],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    for i in range(len(inputs)):
        meta = json.loads((out_dir / f"{i}.json").read_text())
        outs = {}
        for j, o in enumerate(meta["outputs"]):
            outs[o["name"]] = np.fromfile(out_dir / f"{i}_{j}.bin", "<f4").reshape(o["shape"])
        results.append(outs)
    return results


def summarise(name: str, model: dict, net: torch.nn.Module, x: torch.Tensor, graph_out: dict, seed: int) -> dict:
    with torch.inference_mode():
        ours = net(x)
    entry = {"heads": {}, "port_max_abs_diff": {}}
    rng = np.random.default_rng(seed)
    for head, node in model["heads"].items():
        ref = graph_out[node][0].transpose(2, 0, 1) * model["scale"].get(head, 1.0)  # NHWC -> CHW, our units
        c, h, w = ref.shape
        idx = np.stack([rng.integers(0, n, PROBES) for n in (c, h, w)], axis=1)
        entry["heads"][head] = {
            "shape": [c, h, w], "probes": idx.tolist(),
            "values": [float(ref[i, j, k]) for i, j, k in idx],
            "channel_sums": [float(s) for s in ref.astype(np.float64).sum(axis=(1, 2))],
        }
        entry["port_max_abs_diff"][head] = float(np.abs(ours[head][0].numpy() - ref).max())
    entry["decoded"] = graph_out[model["decoded"]][0].astype(float).round(7).tolist()
    return entry


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, required=True, help="the unpacked npm package folder")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, model in MODELS.items():
        net, info = load_checkpoint(model["checkpoint"])
        doc = {"model": name, "graph": f"package/models/{model['graph']}", "images": IMAGES,
               "made_by": "tools/make_default_model_refs.py (TF.js 4.22.0, CPU backend)", "runs": []}
        for size in model["sizes"]:
            spec = info.preprocess.with_input_size(size, size)
            inputs = [preprocess(cv2.imread(str(DATA / image)), spec)[0] for image in IMAGES]
            with tempfile.TemporaryDirectory() as tmp:
                outs = run_graph(args.package, model, inputs, size, Path(tmp))
            for i, (image, x, graph_out) in enumerate(zip(IMAGES, inputs, outs)):
                run = {"image": image, "input_size": size, "preprocess": spec.to_dict(), "input": input_checksum(x)}
                run.update(summarise(name, model, net, x, graph_out, seed=1000 * size + i))
                doc["runs"].append(run)
                print(name, size, image, run["port_max_abs_diff"])
        (OUT / f"{name}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
