// Run a TF.js graph model on raw input tensors and write the requested node outputs.
//
// Used to make the reference numbers of tests/data/default_models/ (see tools/make_default_model_refs.py).
// Needs @tensorflow/tfjs@4.22.0 (pure JavaScript CPU backend) installed outside the repository:
//   mkdir -p /tmp/tfjsref && (cd /tmp/tfjsref && npm install @tensorflow/tfjs@4.22.0)
//   TFJS_DIR=/tmp/tfjsref node tools/tfjs_reference.mjs MODEL.json DTYPE H W OUT_DIR NODE[,NODE...] IN.bin...
// Each IN.bin holds one NHWC image as raw little-endian float32 (1 x H x W x 3); DTYPE is float32
// or int32 (the values are then cast, as the graph's own int32 input). For input i and node j the
// script writes OUT_DIR/i_j.bin (raw float32) and OUT_DIR/i.json (names, shapes, dtypes).
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';

const require = createRequire(path.join(process.env.TFJS_DIR || '/tmp/tfjsref', 'node_modules', '_'));
const tf = require('@tensorflow/tfjs');

const [modelJson, dtype, h, w, outDir, nodeList, ...inputs] = process.argv.slice(2);
if (!inputs.length) {
  console.error('usage: node tfjs_reference.mjs MODEL.json float32|int32 H W OUT_DIR NODE[,NODE...] IN.bin...');
  process.exit(2);
}

async function loadModel(file) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const specs = [];
  const buffers = [];
  for (const group of doc.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(file), p)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: doc.modelTopology, weightSpecs: specs, weightData,
    format: doc.format, generatedBy: doc.generatedBy, convertedBy: doc.convertedBy,
    signature: doc.signature,
  }));
}

await tf.setBackend('cpu');
const model = await loadModel(modelJson);
const nodes = nodeList.split(',');
fs.mkdirSync(outDir, { recursive: true });
for (const [i, file] of inputs.entries()) {
  const raw = fs.readFileSync(file);
  const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const shape = [1, Number(h), Number(w), 3];
  const x = dtype === 'int32' ? tf.tensor(Int32Array.from(values), shape, 'int32') : tf.tensor(values, shape, 'float32');
  const t0 = Date.now();
  let outs = await model.executeAsync(x, nodes);
  if (!Array.isArray(outs)) outs = [outs];
  const meta = { input: path.basename(file), seconds: (Date.now() - t0) / 1000, outputs: [] };
  for (const [j, t] of outs.entries()) {
    const data = Float32Array.from(await t.data());
    fs.writeFileSync(path.join(outDir, `${i}_${j}.bin`), Buffer.from(data.buffer));
    meta.outputs.push({ name: nodes[j], shape: t.shape, dtype: t.dtype });
  }
  fs.writeFileSync(path.join(outDir, `${i}.json`), JSON.stringify(meta));
  tf.dispose([x, ...outs]);
  console.log(`${file}: ${meta.seconds} s`);
}
