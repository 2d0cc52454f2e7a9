/** Where the package lives and which version it is, whether running from lib/ or from src/ts/. */
import * as fs from 'fs';
import * as path from 'path';

let root: string | undefined;

/** The package root: the nearest folder above this file holding package.json and CMakeLists.txt. */
export function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'CMakeLists.txt'))) return (root = dir);
    dir = path.dirname(dir);
  }
  return (root = path.resolve(__dirname, '..', '..'));
}

/** The package's version from its package.json, or 'unknown'. */
export function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
