/** The NIfTI case: the same CT file (bench/fixture.js) loaded and converted to float32 on both sides. */
'use strict';
const { log } = require('../driver/common');
const { round } = require('../driver/stats');

function nifti(suite, { p, rounds, reps, T }) {
  const { ctFixture } = require('../fixture');
  const fx = ctFixture(p.nifti.shape, { log });
  suite.fixture = { shape: p.nifti.shape, ...fx };
  log(`nifti: ${fx.path} (${(fx.bytes / 2 ** 20).toFixed(1)} MiB, ${fx.content})`);
  suite.pair(
    'nifti',
    { case: 'nifti', shape: p.nifti.shape, file_mib: round(fx.bytes / 2 ** 20, 1), content: fx.content },
    ['--case', 'nifti', '--path', fx.path, '--threads', T, '--warmup', '1', '--repeats', reps(p.nifti.repeats)],
    { rounds },
  );
}

module.exports = { nifti };
