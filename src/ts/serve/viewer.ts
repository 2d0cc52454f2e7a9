/**
 * The viewer page's files, bundled at build time (scripts/build-viewer.js: src/viewer with NiiVue,
 * by esbuild) into the package's lib/viewer/ and served from memory: no CDN, no file path from a
 * request. Where the bundle has not been built, the routes say how to build it.
 */
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import { packageRoot } from '../util/package';

export interface ViewerAssets {
  files: Map<string, { type: string; body: Buffer }>;
  /** Why there is no viewer, when there is none. */
  missing?: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

/** The folder the build writes (overridable for tests with LIVERSEG_VIEWER_DIR). */
export function viewerDir(): string {
  return process.env.LIVERSEG_VIEWER_DIR ?? nodePath.join(packageRoot(), 'lib', 'viewer');
}

export async function loadViewerAssets(dir = viewerDir()): Promise<ViewerAssets> {
  const files = new Map<string, { type: string; body: Buffer }>();
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const type = TYPES[nodePath.extname(name)];
    if (!type || !/^[A-Za-z0-9_.-]+$/.test(name)) continue;
    files.set(name, { type, body: await fsp.readFile(nodePath.join(dir, name)) });
  }
  if (!files.has('index.html'))
    return { files: new Map(), missing: `the viewer is not built (no ${nodePath.join(dir, 'index.html')}); run 'node scripts/build-viewer.js'` };
  return { files };
}
