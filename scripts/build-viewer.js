#!/usr/bin/env node
/**
 * Builds the viewer page served at `/` by liverseg-serve: src/viewer/main.ts with NiiVue
 * (@niivue/niivue), bundled by esbuild into one script, plus the page and its style sheet, into
 * lib/viewer/. Nothing is fetched at run time: the service's machines may have no internet.
 *   node scripts/build-viewer.js            # type-check, then bundle (minified)
 *   node scripts/build-viewer.js --no-check # bundle only
 * Plain Node; needs the dev dependencies (esbuild, @niivue/niivue, typescript).
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'src', 'viewer');
const out = path.join(root, 'lib', 'viewer');

function main() {
  let esbuild;
  try {
    esbuild = require('esbuild');
  } catch {
    process.stderr.write('build-viewer: esbuild is not installed (a dev dependency: run npm install)\n');
    return 1;
  }
  if (!process.argv.includes('--no-check')) {
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(src, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
    if (tsc.status !== 0) {
      process.stderr.write('build-viewer: src/viewer does not type-check\n');
      return 1;
    }
  }
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const result = esbuild.buildSync({
    entryPoints: [path.join(src, 'main.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: false,
    legalComments: 'linked',
    outfile: path.join(tmp, 'viewer.js'),
    logLevel: 'warning',
    metafile: true,
  });
  for (const f of ['index.html', 'viewer.css']) fs.copyFileSync(path.join(src, f), path.join(tmp, f));
  // Swap the whole folder at once, so a running server never sees half a build.
  fs.rmSync(out, { recursive: true, force: true });
  fs.renameSync(tmp, out);
  const bytes = Object.values(result.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
  process.stderr.write(`build-viewer: lib/viewer/ (${(bytes / 1024).toFixed(0)} KiB of script)\n`);
  return 0;
}

process.exitCode = main();
