/** Pipeline files: a coarse and a fine bundle, by path relative to the pipeline JSON, and the ROI margin. */
import * as nodePath from 'path';
import { fileError } from '../errors';
import { writeJsonAtomic } from '../io/atomic-write';
import { FORMAT_VERSION, PIPELINE_FORMAT, PipelineBundle, readJsonObject } from './format';

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
  return { ...(p as unknown as PipelineBundle), coarsePath: bundlePath(path, p.coarse, 'coarse'), finePath: bundlePath(path, p.fine, 'fine') };
}

/**
 * A pipeline pairs model bundles that may live in other folders (two training runs, say), so its
 * paths may leave its folder; they must name a bundle JSON, which is then read and validated as
 * one (and which keeps its own weights inside its own folder). Only the weights rule is strict.
 */
function bundlePath(pipelinePath: string, name: string, field: string): string {
  if (!/\.json$/i.test(name)) throw fileError('ERR_BUNDLE', pipelinePath, `${field} ${JSON.stringify(name)} is not a model bundle (.json) file`);
  return nodePath.resolve(nodePath.dirname(pipelinePath), name);
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
