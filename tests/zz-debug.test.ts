import * as zlib from 'node:zlib';
import { promises as fsp } from 'node:fs';
import { decodeNifti, loadVolume } from '../src/ts/io';
import { handHeader, handNifti, oracleHeaders, SAMPLE_VALUES } from './helpers/nifti-builder';
test('dbg', async () => {
  const g = handNifti({ version: 1, littleEndian: true, datatype: 4, dims: [3, 2, 2, 2], pixdim: [1, 2, 2, 2] }, SAMPLE_VALUES[4]);
  try { await decodeNifti(g, { maxVoxels: 7 }); } catch (e) { console.log(e, (e as any).cause); }
  await fsp.writeFile('/tmp/lim.nii.gz', zlib.gzipSync(g));
  try { await loadVolume('/tmp/lim.nii.gz', { maxVoxels: 7 }); } catch (e) { console.log(e, (e as any).cause); }
});
