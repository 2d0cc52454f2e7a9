#!/usr/bin/env node
/**
 * `npm run prebuild`: builds the addon with cmake-js (incrementally) and copies it to
 * prebuilds/<platform>-<arch>/ under the name node-gyp-build picks for a Node-API build, e.g.
 * prebuilds/linux-x64/liverseg.glibc.napi.node. prebuildify cannot drive cmake-js, so this
 * follows its layout by hand:
 *   - the folder is `${platform}-${arch}` (node-gyp-build's parseTuple);
 *   - the file name is dot-separated tags ending in `.node` (parseTags): `napi` marks a
 *     Node-API build that fits every ABI, `glibc`/`musl` the C library on Linux; other words
 *     (here the package name) are ignored by the matcher.
 * It then checks the result: the RUNPATH that lets the addon find LibTorch without
 * LD_LIBRARY_PATH (readelf, when present), and that node-gyp-build selects and loads the copy
 * from a folder with no build/ next to it, in a child process with LD_LIBRARY_PATH unset.
 *
 * Options: --skip-build (copy the existing build/Release/liverseg.node only), --quiet.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { buildAddon } = require('./build-addon');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const skipBuild = args.includes('--skip-build');
const quiet = args.includes('--quiet');
const log = (msg) => {
  if (!quiet) process.stderr.write(`[liverseg prebuild] ${msg}\n`);
};
const fail = (msg) => {
  process.stderr.write(`[liverseg prebuild] error: ${msg}\n`);
  process.exit(1);
};

/** The C library tag node-gyp-build expects on this machine (it treats every non-Alpine Linux as glibc). */
function libcTag() {
  if (process.platform !== 'linux') return null;
  if (process.env.LIBC) return process.env.LIBC;
  return fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
}

/** prebuilds/<platform>-<arch>/<file> for this machine. */
function prebuildTarget() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const tags = ['liverseg', libcTag(), 'napi', 'node'].filter(Boolean);
  return { dir, file: path.join(dir, tags.join('.')) };
}

function resolveFrom(request) {
  return require.resolve(request, { paths: [root] });
}

function compile() {
  const r = buildAddon({ stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit', log });
  if (!r.ok) fail(r.error);
}

/** RPATH/RUNPATH entries of an ELF file, or null when readelf is not available. */
function runpaths(file) {
  const r = spawnSync('readelf', ['-d', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  const out = [];
  for (const m of r.stdout.matchAll(/\((RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[([^\]]*)\]/g)) {
    out.push({ kind: m[1], dirs: m[2].split(':').filter(Boolean) });
  }
  return out;
}

/**
 * Copies the package.json and the prebuild alone into a temporary folder and asks node-gyp-build
 * (from this checkout's node_modules) to load from there, with LD_LIBRARY_PATH unset.
 */
function verifySelection(target) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-prebuild-check-'));
  try {
    fs.copyFileSync(path.join(root, 'package.json'), path.join(tmp, 'package.json'));
    const rel = path.relative(root, target);
    fs.mkdirSync(path.join(tmp, path.dirname(rel)), { recursive: true });
    fs.copyFileSync(target, path.join(tmp, rel));
    const script =
      `const ngb = require(${JSON.stringify(resolveFrom('node-gyp-build'))});` +
      `const dir = ${JSON.stringify(tmp)};` +
      `const file = ngb.resolve(dir);` +
      `const addon = ngb(dir);` +
      `process.stdout.write(JSON.stringify({ file, backend: typeof addon.backend === 'function' ? addon.backend() : null }));`;
    const env = { ...process.env };
    delete env.LD_LIBRARY_PATH;
    delete env.PREBUILDS_ONLY;
    delete env.LIVERSEG_PREBUILD;
    const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
    if (r.status !== 0) fail(`node-gyp-build could not load the prebuild from ${tmp}:\n${r.stderr.trim()}`);
    const res = JSON.parse(r.stdout);
    if (path.relative(tmp, res.file) !== rel) fail(`node-gyp-build selected ${res.file}, not ${rel}`);
    return res;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const built = path.join(root, 'build', 'Release', 'liverseg.node');
if (!skipBuild) compile();
if (!fs.existsSync(built)) fail(`${path.relative(root, built)} does not exist: build it first ('npm run build:native')`);

const target = prebuildTarget();
fs.mkdirSync(target.dir, { recursive: true });
// One addon per platform folder: an older file with other tags could win node-gyp-build's sort.
for (const f of fs.readdirSync(target.dir)) {
  if (f.endsWith('.node') && path.join(target.dir, f) !== target.file) fs.rmSync(path.join(target.dir, f));
}
fs.copyFileSync(built, target.file);
fs.chmodSync(target.file, 0o755);
log(`copied ${path.relative(root, built)} -> ${path.relative(root, target.file)} (${fs.statSync(target.file).size} bytes)`);

if (process.platform === 'linux') {
  const rp = runpaths(target.file);
  if (rp === null) log('readelf not found: RUNPATH not checked');
  else if (rp.length === 0) log('warning: the addon has no RPATH/RUNPATH; LibTorch must be on the default library path');
  else for (const e of rp) log(`${e.kind}: ${e.dirs.join(':')}`);
}

const check = verifySelection(target.file);
const torch = check.backend && check.backend.torchVersion;
log(`node-gyp-build selects ${path.relative(root, target.file)} and loads it without LD_LIBRARY_PATH` + (torch ? ` (LibTorch ${torch})` : ''));
