#!/usr/bin/env node
/**
 * Proves the peer is the same network as the addon, not only the same parameter count: the
 * addon's initial weights are loaded into bench/peer/resunet.py, and both sides must agree on a
 * forward pass, on the Dice loss of one training step and on the weights after that Novograd step.
 *
 *   node bench/parity.js [--size 32] [--python /usr/bin/python3]
 *
 * Prints one JSON line {check: 'parity', ok, forward_max_abs_diff, loss_abs_diff, ...}.
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const size = Number(opt('size', '32'));
  const python = opt('python', '/usr/bin/python3');
  const steps = Number(opt('steps', '2'));
  const { ResUNet } = require('..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-parity-'));
  try {
    const net = await ResUNet.create({ device: 'cpu', seed: 7, optimizer: { name: 'novograd', lr: 1e-2 } });
    const manifest = { size, steps, tensors: {} };
    const save = (key, t) => {
      const file = `${key}.bin`;
      const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
      fs.writeFileSync(path.join(dir, file), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      manifest.tensors[key] = { file, shape: t.shape };
    };
    for (const w of await net.getWeights()) save(`w0/${w.name}`.replace(/\//g, '__'), w);
    // A smooth input with a liver-like ball, so the loss is neither 0 nor 1.
    const n = size ** 3;
    const x = new Float32Array(n);
    const lab = new Float32Array(n);
    const c = (size - 1) / 2;
    for (let z = 0; z < size; z++)
      for (let y = 0; y < size; y++)
        for (let i = 0; i < size; i++) {
          const k = (z * size + y) * size + i;
          const d2 = (i - c) ** 2 + (y - c) ** 2 + (z - c) ** 2;
          x[k] = Math.sin(0.3 * i) * Math.cos(0.2 * y) + (0.1 * z) / size + (d2 < (size / 3) ** 2 ? 0.5 : 0);
          lab[k] = d2 < (size / 3) ** 2 ? 1 : 0;
        }
    const shape = [1, 1, size, size, size];
    const images = { data: x, shape };
    const labels = { data: lab, shape };
    // NIfTI-order shape [B, C, ni, nj, nk] and tensor order [B, C, nk, nj, ni] are the same bytes;
    // the peer reads the buffer as [B, C, D, H, W] and a cube makes the two shapes equal.
    save('x', { data: x, shape });
    save('label', { data: lab, shape });
    save('y', await net.forward(images));
    const losses = [];
    for (let s = 0; s < steps; s++) losses.push(await net.trainStep(images, labels));
    manifest.losses = losses;
    for (const w of await net.getWeights()) save(`w1/${w.name}`.replace(/\//g, '__'), w);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    await net.dispose();
    const r = spawnSync(python, [path.join(__dirname, 'peer', 'parity.py'), dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`peer parity failed: ${r.stderr || r.stdout}`);
    process.stdout.write(r.stdout);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    if (!out.ok) process.exitCode = 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`parity: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
