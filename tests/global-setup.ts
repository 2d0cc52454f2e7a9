/**
 * Once per jest run: a temporary folder for the small two-stage pipeline that the inference and
 * training tests share (tests/helpers/trained-pipeline.ts), trained here, before any test file
 * runs, whenever the run includes the end-to-end lane. Then no test file pays for it and the
 * times jest prints per file are the file's own. A run of only the unit and native lanes
 * (`npm run test:unit`) trains nothing.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Config } from '@jest/types';
import { trainedPipeline } from './helpers/trained-pipeline';

export default async function globalSetup(config: Config.GlobalConfig): Promise<void> {
  process.env.LIVERSEG_TEST_PIPELINE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-pipeline-'));
  const patterns = config.testPathPattern ? [config.testPathPattern] : [];
  const wanted = patterns.length === 0 || patterns.some((p) => /e2e|segment|training/.test(p));
  if (!wanted) return;
  const t0 = Date.now();
  process.stderr.write('\n[global setup] training the shared test pipeline (two stages on 14 phantoms)...\n');
  const tp = await trainedPipeline();
  process.stderr.write(`[global setup] trained in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${tp.pipeline}\n`);
}
