/** Pipeline files: a coarse and a fine bundle, by path relative to the pipeline JSON, and the ROI margin. */
import * as nodePath from 'path';
import { fileError } from '../errors';
import { writeJsonAtomic } from '../io/atomic-write';
import { fileInside, FORMAT_VERSION, PIPELINE_FORMAT, PipelineBundle, readJsonObject } from './format';

/** A pipeline with its bundles' absolute paths. */
export interface ResolvedPipelineFile extends PipelineBundle {
  coarsePath: string;
  finePath: string;
}

export async function readPipeline(path: string): Promise<ResolvedPipelineFile> {
  const p = await readJsonObject(path, 'pipeline');
  const bad = (problem: string) => fileError('ERR_BUNDLE', path, problem);
  if (p.format !== PIPELINE_FORMAT) throw bad(`not a liverseg pipeline (format is ${JSON.stringify(p.format)}, expected "${PIPELINE_FORMAT}")`);
  if (typeof p.coarse !== 'string' || typeof p.fine !== 'string') throw bad('must name a coarse and a fine bundle');
  if (typeof p.margin !== 'number' || !Number.isInteger(p.margin) || p.margin < 0) throw bad(`margin must be an integer >= 0, got ${JSON.stringify(p.margin)}`);
  return { ...(p as unknown as PipelineBundle), coarsePath: fileInside(path, p.coarse, 'coarse'), finePath: fileInside(path, p.fine, 'fine') };
}

export async function writePipeline(path: string, coarseJson: string, fineJson: string, margin: number): Promise<PipelineBundle> {
  const dir = nodePath.dirname(path);
  const p: PipelineBundle = {
    format: PIPELINE_FORMAT,
    formatVersion: FORMAT_VERSION,
    coarse: nodePath.relative(dir, coarseJson),
    fine: nodePath.relative(dir, fineJson),
    margin,
    createdAt: new Date().toISOString(),
  };
  await writeJsonAtomic(path, p);
  return p;
}
