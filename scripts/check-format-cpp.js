#!/usr/bin/env node
/**
 * clang-format over cpp/ with the repository's .clang-format: `--fix` rewrites the files, without
 * it any difference fails (exit 1) and is listed. Where clang-format is not installed (setup.js
 * installs Debian's when it runs as root) this says so and passes: formatting is a review aid,
 * and a machine without it can still build and test.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const fix = process.argv.includes('--fix');

function sources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.(cc|h)$/.test(e.name) ? [p] : [];
  });
}

if (spawnSync('sh', ['-c', 'command -v clang-format'], { stdio: 'ignore' }).status !== 0) {
  process.stderr.write('[check-format-cpp] clang-format is not installed: C++ formatting not checked\n');
  process.exit(0);
}
const files = sources(path.join(root, 'cpp'));
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const r = spawnSync('clang-format', args, { cwd: root, encoding: 'utf8' });
if (r.status !== 0) {
  const bad = [...new Set([...(r.stderr || '').matchAll(/^(\S+\.(?:cc|h)):\d+:\d+: /gm)].map((m) => path.relative(root, m[1])))];
  process.stderr.write(`[check-format-cpp] not formatted: ${bad.join(', ') || r.stderr}\nRun: npm run format\n`);
  process.exit(1);
}
if (!fix) process.stderr.write(`[check-format-cpp] ${files.length} files formatted\n`);
