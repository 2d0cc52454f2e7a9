import { promises as fsp } from 'fs';

/** Whether anything exists at `p` (file or folder). */
export async function pathExists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}
