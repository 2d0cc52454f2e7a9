const fs = require('fs');

module.exports = async () => {
  const dir = process.env.LIVERSEG_TEST_PIPELINE_DIR;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
};
