/**
 * The engine cases: the same ResUNet on liverseg's LibTorch engine, on liverseg's onnxruntime-node
 * engine and in Python PyTorch (the peer), in one run with the order rotated each round
 * (L O P, O P L, P L O, ...), so load from elsewhere on the machine falls on all three; then
 * end-to-end segment() of a 512x512x200 phantom on each engine and fine mode; then CPU bf16.
 *
 * `onnxCases(suite, context)` emits its records through `suite.emit` (a bench/driver/suite.js
 * Suite, or the small one bench/onnx-bench.js makes) and returns them; bench/onnx-bench.js runs it
 * alone and renders its section of docs/BENCHMARKS.md.
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { ROOT, BENCH, log } = require('../driver/common');
const { childEnv } = require('../driver/children');
const { merge, round } = require('../driver/stats');

const SIDES = ['libtorch', 'onnxruntime', 'peer'];

/** One child: the LibTorch side is bench/liverseg_case.js, onnxruntime bench/onnx-case.js, the peer bench/peer/bench_peer.py. */
function runSide(side, args, o, extraEnv = {}) {
  const [cmd, argv] =
    side === 'peer'
      ? [o.python, [path.join(BENCH, 'peer', 'bench_peer.py'), ...args]]
      : side === 'libtorch'
        ? [process.execPath, [path.join(BENCH, 'liverseg_case.js'), ...args]]
        : [process.execPath, [path.join(BENCH, 'onnx-case.js'), ...args]];
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env: { ...childEnv(o), ...extraEnv }, timeout: 30 * 60 * 1000, maxBuffer: 64 << 20, cwd: ROOT });
  const lines = (r.stdout || '')
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  if (r.status === 0 && lines.length) return { ...JSON.parse(lines[lines.length - 1]), process_wall_s: round((Date.now() - t0) / 1000, 1) };
  const tail = (r.stderr || '').trim().split('\n').slice(-6).join(' | ');
  log(`${side} ${args.join(' ')} failed (${r.error ? r.error.message : `exit ${r.status}`}): ${tail}`);
  return { side, error: tail.slice(0, 600) || `exit ${r.status}` };
}

/** Exports the networks the cases run: seed 0 (forward, as liverseg_case.js and the peer) and seeds 1, 2 (segment). */
async function exportNetworks(dir) {
  const ls = require('../..');
  const out = {};
  for (const seed of [0, 1, 2]) {
    const net = await ls.ResUNet.create({ device: 'cpu', seed });
    out[seed] = path.join(dir, `resunet-seed${seed}.onnx`);
    await ls.exportOnnx(net, out[seed]);
    await net.dispose();
  }
  return out;
}

/** PyTorch CPU bf16 (autocast) against fp32 on one 128^3 forward: agreement of the masks (logit >= 0). */
const BF16_AGREEMENT_PY = `
import sys, json, torch
sys.path.insert(0, sys.argv[1])
from resunet import ResUNet3D
torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[2]))
net = ResUNet3D().eval()
x = torch.rand(1, 1, 128, 128, 128)
with torch.inference_mode():
    a = net(x)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        b = net(x).float()
print(json.dumps({'agreement': ((a >= 0) == (b >= 0)).float().mean().item(), 'max_abs_diff': (a - b).abs().max().item(), 'max_abs': a.abs().max().item()}))
`;

async function onnxCases(suite, { o, quick, reps }) {
  const records = [];
  const emit = (rec) => {
    suite.emit(rec);
    records.push(rec);
  };
  const T = String(o.threads);
  const want = (name) => !o.cases || o.cases.includes(name);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-bench-onnx-'));
  try {
    const nets = await exportNetworks(dir);
    const sides = SIDES.filter((s) => s !== 'peer' || o.peerVersions);
    const rounds = o.rounds || (quick ? 1 : 2);

    // 1. forward, three ways, rotated order
    for (const size of !want('forward') ? [] : quick ? [48] : [96, 128]) {
      const byside = Object.fromEntries(sides.map((s) => [s, []]));
      for (let r = 0; r < rounds; r++) {
        const order = sides.map((_, i) => sides[(i + r) % sides.length]);
        for (const side of order) {
          log(`engine forward-${size}: ${side} (round ${r + 1}/${rounds})`);
          const common = ['--size', String(size), '--threads', T, '--warmup', '1', '--repeats', reps(3)];
          const args =
            side === 'onnxruntime' ? ['--case', 'forward', '--onnx', nets[0], ...common] : ['--case', 'forward', '--device', 'cpu', '--amp', 'off', ...common];
          const rec = runSide(side, args, o);
          byside[side].push(rec);
          if (!rec.error) log(`  median ${rec.median_s} s [${rec.times_s.join(', ')}], peak RSS ${rec.peak_rss_mib} MiB`);
        }
      }
      for (const side of sides) emit(merge(byside[side], { case: 'engine-forward', size, side, key: `engine-forward-${size}` }));
    }

    // 2. segment 512x512x200, each engine and fine mode (one process each; the windows of both modes run once first)
    const seg = quick ? { slices: 32, inPlane: 256, window: 64 } : { slices: 200, inPlane: 512, window: 128 };
    const configs = [
      ['libtorch', 'windows', {}],
      ['libtorch', 'whole', {}],
      ['onnxruntime', 'windows', {}],
      ['onnxruntime', 'whole', {}],
      ['onnxruntime', 'whole', { LIVERSEG_NATIVE: 'off' }],
    ];
    for (const [engine, mode, env] of want('segment') ? configs : []) {
      const label = `${engine}${env.LIVERSEG_NATIVE ? ' (no addon)' : ''}, ${mode}`;
      log(`engine segment-${seg.slices}: ${label}`);
      const args = [
        '--case',
        'segment',
        '--engine',
        engine,
        '--fine-mode',
        mode,
        '--slices',
        String(seg.slices),
        '--in-plane',
        String(seg.inPlane),
        '--window',
        String(seg.window),
      ];
      args.push('--threads', T, '--warmup', '0', '--repeats', reps(quick ? 1 : 2), '--coarse-onnx', nets[1], '--fine-onnx', nets[2]);
      // the 336x208x128 padded region is above the default budget (6.9 M voxels): let the one pass run, to measure it
      if (mode === 'whole') args.push('--max-voxels', '12000000');
      const rec = runSide('onnxruntime', args, o, env);
      if (!rec.error)
        log(`  median ${rec.median_s} s [${rec.times_s.join(', ')}], fine ${rec.stages_s && rec.stages_s.fine} s, peak RSS ${rec.peak_rss_mib} MiB`);
      emit({
        ...merge([rec], {
          case: 'engine-segment',
          shape: [seg.inPlane, seg.inPlane, seg.slices],
          side: engine,
          key: `engine-segment-${engine}-${mode}${env.LIVERSEG_NATIVE ? '-noaddon' : ''}`,
        }),
        fine_mode: mode,
        native_ops: env.LIVERSEG_NATIVE ? 'typescript' : 'native',
        stages_s: rec.stages_s,
        roi_size: rec.roi_size,
      });
    }

    // 3. CPU bf16: the peer's autocast (the same LibTorch 1.13 as the addon), time and masks against fp32
    if (o.peerVersions && !quick && want('bf16')) {
      const times = {};
      for (const amp of ['off', 'bf16']) {
        log(`engine bf16: peer forward 128 --amp ${amp}`);
        times[amp] = runSide(
          'peer',
          ['--case', 'forward', '--size', '128', '--device', 'cpu', '--amp', amp, '--threads', T, '--warmup', '1', '--repeats', reps(3)],
          o,
        );
      }
      const q = spawnSync(o.python, ['-c', BF16_AGREEMENT_PY, path.join(BENCH, 'peer'), T], { encoding: 'utf8', env: childEnv(o) });
      let agreement = null;
      try {
        agreement = JSON.parse(q.stdout.trim().split('\n').pop());
      } catch {
        log(`bf16 agreement failed: ${(q.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
      }
      emit({
        kind: 'bf16',
        case: 'bf16-forward-128',
        fp32_median_s: times.off.median_s,
        bf16_median_s: times.bf16.median_s,
        fp32: times.off,
        bf16: times.bf16,
        agreement,
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return records;
}

module.exports = { onnxCases, SIDES };
