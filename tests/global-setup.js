// One temporary folder per jest run for the pipeline the inference and training tests share
// (tests/helpers/trained-pipeline.ts). Environment variables set here reach every test file.
const fs = require('fs');
const os = require('os');
const path = require('path');

module.exports = async () => {
  process.env.LIVERSEG_TEST_PIPELINE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-pipeline-'));
};
