/** Removes the run's shared pipeline folder (made by global-setup.ts). */
import * as fs from 'fs';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.LIVERSEG_TEST_PIPELINE_DIR;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
