/**
 * The published package, end to end: `npm pack` this checkout (with its prebuild), install the
 * tarball into a fresh project (dependencies at the lock file's versions, from the registry), and use it from there the way a dependent package would:
 * require / import, a forward pass, segment() on a phantom, every CLI with --help. Installing
 * must not compile anything: the addon that loads is the prebuild.
 *
 * Needs lib/ (built by scripts/setup.js, which `npm test` runs first) and build/Release/liverseg.node,
 * which `node scripts/prebuild.js --skip-build` copies to prebuilds/. Also `npm run test:package`.
 * Set LIVERSEG_KEEP_PACK_DIR=1 to keep the temporary project for a look.
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
const platformDir = `prebuilds/${process.platform}-${process.arch}/`;
const expectedBins = ['liverseg-train', 'liverseg-segment', 'liverseg-prepare', 'liverseg-phantoms', 'liverseg-info', 'liverseg-export', 'liverseg-build'];

interface PackFile {
  path: string;
  size: number;
}
interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: PackFile[];
}

/** The environment for child processes: no LD_LIBRARY_PATH (the addon must find LibTorch by its RUNPATH), no npm lifecycle leftovers. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_package_|npm_lifecycle_)/.test(k)) continue;
    if (/^npm_config_(build_from_source|global|prefix|local_prefix|ignore_scripts|dry_run|offline)$/i.test(k)) continue;
    if (['LD_LIBRARY_PATH', 'PREBUILDS_ONLY', 'LIVERSEG_PREBUILD', 'LIVERSEG_BUILD_FROM_SOURCE', 'INIT_CWD', 'NODE_OPTIONS'].includes(k)) continue;
    env[k] = v;
  }
  env.NO_UPDATE_NOTIFIER = '1';
  return env;
}

function run(cmd: string, args: string[], cwd: string, what: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: { ...childEnv(), ...env }, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 });
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${what} failed (${cmd} ${args.join(' ')}, exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/** Runs a script file with node in the temporary project and parses the JSON it prints last. */
function nodeJson<T>(cwd: string, file: string, what: string): T {
  const r = run(process.execPath, [file], cwd, what);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${what}: expected JSON on the last line of stdout, got:\n${r.stdout}\n${r.stderr}`);
  }
}

const requireScript = `
const fs = require('fs');
const path = require('path');
const ls = require('liverseg');
(async () => {
  const out = { resolved: require.resolve('liverseg'), exports: Object.keys(ls).length };
  out.backend = ls.backend();
  out.addons = Object.keys(require.cache).filter((k) => k.endsWith('.node'));

  const net = await ls.ResUNet.create({ channels: [4, 8], device: 'cpu' });
  const n = 16 * 16 * 16;
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.1));
  const y = await net.forward({ data, shape: [1, 1, 16, 16, 16] });
  out.forward = { shape: y.shape, length: y.data.length, finite: y.data.every(Number.isFinite) };

  const modelPath = path.join(process.cwd(), 'model', 'single.json');
  fs.mkdirSync(path.dirname(modelPath), { recursive: true });
  await ls.saveModel(modelPath, net, {
    stage: 'single',
    intensity: { aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true },
    inputSize: [32, 32, 32],
  });
  await net.dispose();
  const phantom = ls.makePhantom({ shape: [48, 48, 32], seed: 1 });
  const mask = await ls.segment(phantom.image, { model: modelPath });
  out.segment = {
    inputShape: phantom.image.shape,
    maskShape: mask.shape,
    maskType: mask.data.constructor.name,
    maskLength: mask.data.length,
  };
  // The LibTorch engine's mask, for the run without the addon to compare with.
  const torchMask = await ls.segment(phantom.image, { model: modelPath, engine: 'libtorch' });
  fs.writeFileSync(path.join(process.cwd(), 'model', 'libtorch-mask.bin'), torchMask.data);
  out.engines = { auto: (await ls.loadPipeline(modelPath)).engine, onnxruntime: ls.onnxruntimeAvailability().available };
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
`;

const esmScript = `
import * as ls from 'liverseg';
import { ResUNet, segment, makePhantom, backend } from 'liverseg';
const net = await ResUNet.create({ channels: [4, 8], device: 'cpu' });
const y = await net.forward({ data: new Float32Array(8 * 8 * 8).fill(0.5), shape: [1, 1, 8, 8, 8] });
await net.dispose();
console.log(JSON.stringify({
  named: [typeof ResUNet, typeof segment, typeof makePhantom, typeof backend],
  defaultHasSegment: typeof ls.default?.segment,
  torch: backend().torchVersion,
  forwardShape: y.shape,
}));
`;

/** The addon switched off (LIVERSEG_NATIVE=off): segment() of the same phantom through onnxruntime-node, against the LibTorch engine's mask. */
const noAddonScript = `
const fs = require('fs');
const path = require('path');
const ls = require('liverseg');
(async () => {
  const modelPath = path.join(process.cwd(), 'model', 'single.json');
  const phantom = ls.makePhantom({ shape: [48, 48, 32], seed: 1 });
  const mask = await ls.segment(phantom.image, { model: modelPath });
  const ref = fs.readFileSync(path.join(process.cwd(), 'model', 'libtorch-mask.bin'));
  let same = 0;
  for (let i = 0; i < ref.length; i++) same += ref[i] === mask.data[i] ? 1 : 0;
  let backendError = null;
  try {
    ls.backend();
  } catch (e) {
    backendError = e.code;
  }
  let trainError = null;
  await ls.ResUNet.create({ channels: [4, 8] }).catch((e) => (trainError = e.code + ': ' + e.message));
  console.log(JSON.stringify({
    engine: (await ls.loadPipeline(modelPath)).engine,
    agreement: same / ref.length,
    liver: mask.data.reduce((n, v) => n + v, 0),
    addons: Object.keys(require.cache).filter((k) => k.endsWith('.node')),
    backendError,
    trainError,
  }));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
`;

/** A dlopen failure on a LibTorch library: an addon that needs libtorch_fake.so.9.99, which does not exist. */
const brokenScript = `
const ls = require('liverseg');
try {
  ls.backend();
  console.log(JSON.stringify({ loaded: true }));
} catch (e) {
  console.log(JSON.stringify({ loaded: false, name: e.name, code: e.code, message: e.message }));
}
`;

function hasCompiler(): boolean {
  return spawnSync('sh', ['-c', 'command -v cc'], { stdio: 'ignore' }).status === 0;
}

describe('the packed tarball, installed into a fresh project', () => {
  let work = '';
  let app = '';
  let pack: PackResult;
  let installLog = '';
  let installed = '';
  const t0 = Date.now();

  beforeAll(() => {
    if (!fs.existsSync(path.join(root, 'lib', 'index.js')) || !fs.existsSync(path.join(root, 'lib', 'index.d.ts'))) {
      throw new Error('lib/index.js or lib/index.d.ts is missing: run `node scripts/setup.js` (it compiles the TypeScript) first');
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-pack-'));

    // 1. the prebuild from the existing build (scripts/setup.js has built it; no compile here)
    run(process.execPath, [path.join(root, 'scripts', 'prebuild.js'), '--skip-build', '--quiet'], root, 'copying the addon to prebuilds/');

    // 2. npm pack
    const packed = run('npm', ['pack', '--json', '--pack-destination', work], root, 'npm pack');
    pack = (JSON.parse(packed.stdout) as PackResult[])[0];
    const prebuilds = pack.files.filter((f) => f.path.startsWith(platformDir) && f.path.endsWith('.node'));
    if (prebuilds.length === 0) {
      throw new Error(
        `the tarball ${pack.filename} has no prebuild for ${process.platform}-${process.arch} (no ${platformDir}*.node among ` +
          `its ${pack.files.length} files): installing it would have to compile. Check "files" in package.json and run \`npm run prebuild\`.`,
      );
    }

    // 3. a fresh project with the tarball installed
    app = path.join(work, 'app');
    fs.mkdirSync(app);
    run('npm', ['init', '-y'], app, 'npm init');
    // Pin liverseg's dependencies to the versions in this checkout's lock file, so the test installs
    // what the checkout was tested with rather than whatever the registry has newest.
    const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; dev?: boolean }>;
    };
    const overrides: Record<string, string> = {};
    for (const [key, entry] of Object.entries(lock.packages)) {
      const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(key);
      if (m && !entry.dev && entry.version) overrides[m[1]] = entry.version;
    }
    const appPkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8'));
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ ...appPkg, overrides }, null, 2));
    const tgz = path.join(work, pack.filename);
    // From the registry (or the npm cache where it already holds the pinned versions): a new
    // machine's cache is empty, and `npm ci` in the checkout never stores registry metadata.
    // onnxruntime-node's install step would download CUDA libraries from NuGet, which this machine
    // cannot reach; npm then drops the optional package. Its CPU libraries are in its tarball, and
    // ONNXRUNTIME_NODE_INSTALL=skip (the README's advice for such machines) skips the download.
    const inst = run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', '--loglevel', 'error', tgz],
      app,
      'npm install of the tarball',
      { ONNXRUNTIME_NODE_INSTALL: 'skip' },
    );
    installLog = inst.stdout + inst.stderr;
    installed = path.join(app, 'node_modules', 'liverseg');
  }, 150_000);

  afterAll(() => {
    if (work && !process.env.LIVERSEG_KEEP_PACK_DIR) fs.rmSync(work, { recursive: true, force: true });
    else if (work) process.stderr.write(`package test: kept ${work}\n`);
    process.stderr.write(`package test: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  });

  it('contains what users need and nothing else', () => {
    const files = pack.files.map((f) => f.path);
    for (const f of ['package.json', 'lib/index.js', 'lib/index.d.ts', 'CMakeLists.txt', 'LICENSE', 'README.md', 'scripts/install.js']) {
      expect(files).toContain(f);
    }
    for (const bin of expectedBins.filter((b) => b !== 'liverseg-build')) expect(files).toContain(`lib/cli/${bin.replace('liverseg-', '')}.js`);
    expect(files).toContain('scripts/build.js');
    for (const f of ['scripts/torch-paths.py', 'scripts/find-torch.js', 'scripts/build-addon.js']) expect(files).toContain(f);
    expect(files.some((f) => f.startsWith(platformDir) && f.endsWith('.napi.node'))).toBe(true);
    expect(files.some((f) => f.startsWith('cpp/core/'))).toBe(true);
    expect(files.some((f) => f.startsWith('cpp/addon/'))).toBe(true);
    const unwanted = files.filter((f) => /^(tests|src|build|bench|docs|node_modules)\//.test(f) || f.endsWith('.tgz'));
    expect(unwanted).toEqual([]);
    expect(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
  });

  it('installs without compiling: the prebuild loads whether or not npm ran the install script', () => {
    expect(fs.existsSync(path.join(installed, 'package.json'))).toBe(true);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    expect(installLog).not.toMatch(/cmake-js|building the addon from source/);
  });

  it('runs its install step when asked (npm rebuild), which finds the prebuild and builds nothing', () => {
    const r = run('npm', ['rebuild', 'liverseg', '--foreground-scripts'], app, 'npm rebuild liverseg');
    const out = r.stdout + r.stderr;
    // npm 11 may still hold the script back until it is approved; when it runs, it must pick the prebuild.
    if (/\[liverseg install\]/.test(out)) expect(out).toMatch(/\[liverseg install\] using prebuilds\//);
    expect(out).not.toMatch(/building the addon from source/);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
  });

  it('require()s, runs a forward pass and segments a phantom, with the prebuild loaded', () => {
    fs.writeFileSync(path.join(app, 'check.cjs'), requireScript);
    const out = nodeJson<{
      resolved: string;
      exports: number;
      backend: { torchVersion: string };
      addons: string[];
      forward: { shape: number[]; length: number; finite: boolean };
      segment: { inputShape: number[]; maskShape: number[]; maskType: string; maskLength: number };
      engines: { auto: string; onnxruntime: boolean };
    }>(app, 'check.cjs', 'require("liverseg") in the installed project');
    expect(fs.realpathSync(out.resolved)).toBe(fs.realpathSync(path.join(installed, 'lib', 'index.js')));
    // liverseg's prebuild, and onnxruntime-node's binding (the engine 'auto' picks on the CPU)
    const ours = out.addons.filter((a) => !a.includes(`${path.sep}onnxruntime-node${path.sep}`));
    expect(ours).toHaveLength(1);
    expect(path.relative(fs.realpathSync(installed), fs.realpathSync(ours[0]))).toMatch(new RegExp(`^${platformDir}liverseg\\..*napi\\.node$`));
    expect(out.engines).toEqual({ auto: 'onnxruntime', onnxruntime: true });
    expect(out.backend.torchVersion).toMatch(/^\d+\.\d+/);
    expect(out.forward).toEqual({ shape: [1, 1, 16, 16, 16], length: 16 ** 3, finite: true });
    expect(out.segment.maskShape).toEqual(out.segment.inputShape);
    expect(out.segment.inputShape).toEqual([48, 48, 32]);
    expect(out.segment.maskType).toBe('Uint8Array');
    expect(out.segment.maskLength).toBe(48 * 48 * 32);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
  });

  it('installs onnxruntime-node (optional) with its CPU library, its CUDA download skipped', () => {
    const ort = path.join(app, 'node_modules', 'onnxruntime-node');
    expect(fs.existsSync(path.join(ort, 'package.json'))).toBe(true);
    const bin = path.join(ort, 'bin', 'napi-v6', process.platform, process.arch);
    expect(fs.readdirSync(bin).sort()).toEqual(expect.arrayContaining(['onnxruntime_binding.node']));
    // its install script would fetch CUDA libraries from NuGet: skipped, and not needed on the CPU
    expect(fs.existsSync(path.join(bin, 'libonnxruntime_providers_cuda.so'))).toBe(false);
  });

  it('segments a phantom with the addon switched off (LIVERSEG_NATIVE=off) through onnxruntime-node, as LibTorch does', () => {
    fs.writeFileSync(path.join(app, 'check-off.cjs'), noAddonScript);
    const r = spawnSync(process.execPath, ['check-off.cjs'], { cwd: app, env: { ...childEnv(), LIVERSEG_NATIVE: 'off' }, encoding: 'utf8', timeout: 120_000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({
      status: 0,
      stderr: expect.stringMatching(
        /^liverseg: the native addon is unavailable \(LIVERSEG_NATIVE=off\); running inference on onnxruntime-node [\d.]+ \(CPU\)\n$/,
      ),
    });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      engine: string;
      agreement: number;
      liver: number;
      addons: string[];
      backendError: string;
      trainError: string;
    };
    expect(out.engine).toBe('onnxruntime');
    expect(out.agreement).toBeGreaterThanOrEqual(0.999);
    expect(out.addons.filter((a) => a.includes(`${path.sep}node_modules${path.sep}liverseg${path.sep}`))).toEqual([]); // the addon (and LibTorch) never loaded
    expect(out.backendError).toBe('ERR_NATIVE_LOAD');
    expect(out.trainError).toMatch(/^ERR_NATIVE_LOAD: .*training needs the addon/);
  });

  it('import()s from an ES module', () => {
    fs.writeFileSync(path.join(app, 'check.mjs'), esmScript);
    const out = nodeJson<{ named: string[]; defaultHasSegment: string; torch: string; forwardShape: number[] }>(
      app,
      'check.mjs',
      'import "liverseg" in the installed project',
    );
    expect(out.named).toEqual(['function', 'function', 'function', 'function']);
    expect(out.defaultHasSegment).toBe('function');
    expect(out.forwardShape).toEqual([1, 1, 8, 8, 8]);
  });

  it.each(expectedBins)('%s --help works from node_modules/.bin', (bin) => {
    const file = path.join(app, 'node_modules', '.bin', bin);
    expect(fs.existsSync(file)).toBe(true);
    const r = spawnSync(file, ['--help'], { cwd: app, env: childEnv(), encoding: 'utf8', timeout: 60_000 });
    expect({ bin, status: r.status, error: r.error?.message, stderr: r.status === 0 ? '' : r.stderr }).toEqual({
      bin,
      status: 0,
      error: undefined,
      stderr: '',
    });
    expect(r.stdout + r.stderr).toMatch(/Usage/);
  });

  (hasCompiler() ? it : it.skip)('explains a missing LibTorch library by name, with how to install it', () => {
    // A copy of the installed package whose prebuild needs a library that is not there.
    const broken = path.join(app, 'broken', 'node_modules', 'liverseg');
    fs.cpSync(installed, broken, { recursive: true });
    const prebuildDir = path.join(broken, platformDir);
    const prebuild = fs.readdirSync(prebuildDir).find((f) => f.endsWith('.node'))!;
    const stubDir = path.join(work, 'stub');
    fs.mkdirSync(stubDir);
    fs.writeFileSync(path.join(stubDir, 'stub.c'), 'int liverseg_fake_torch(void) { return 1; }\n');
    fs.writeFileSync(path.join(stubDir, 'addon.c'), 'int liverseg_fake_torch(void);\nint liverseg_fake_addon(void) { return liverseg_fake_torch(); }\n');
    run('cc', ['-shared', '-fPIC', '-Wl,-soname,libtorch_fake.so.9.99', '-o', 'libtorch_fake.so.9.99', 'stub.c'], stubDir, 'building the stub library');
    run(
      'cc',
      ['-shared', '-fPIC', '-Wl,--no-as-needed', '-o', path.join(prebuildDir, prebuild), 'addon.c', path.join(stubDir, 'libtorch_fake.so.9.99')],
      stubDir,
      'building the fake addon',
    );
    fs.rmSync(path.join(stubDir, 'libtorch_fake.so.9.99'));
    fs.writeFileSync(path.join(app, 'broken', 'check.cjs'), brokenScript);
    const out = nodeJson<{ loaded: boolean; code: string; message: string }>(path.join(app, 'broken'), 'check.cjs', 'loading an addon with a missing library');
    expect(out.loaded).toBe(false);
    expect(out.code).toBe('ERR_NATIVE_LOAD');
    expect(out.message).toContain('libtorch_fake.so.9.99');
    expect(out.message).toContain('part of LibTorch');
    expect(out.message).toContain('built against LibTorch 9.99');
    expect(out.message).toContain('apt-get install libtorch-dev');
    expect(out.message).toContain('Torch_DIR=');
    expect(out.message).toContain('npm rebuild liverseg');
    expect(out.message).toContain('npx liverseg-build');
    expect(out.message).toContain('npm install-scripts approve liverseg');
    expect(out.message).toContain(path.join(platformDir, prebuild));
    expect(out.message).not.toMatch(/cannot open shared object file/);
  });
});
