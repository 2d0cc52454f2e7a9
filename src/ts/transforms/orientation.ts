/** Orientation(d): exact reorientation (flips and axis permutations, no interpolation) over src/ts/io. */
import { invalidArg, describeValue } from '../errors';
import type { Volume, VoxelArray } from '../volume';
import { ioOrientation, toCanonical } from '../geometry/orientation';
import type { AxisMap } from './ops';
import { axisMapVolume } from './ops';
import type { KeysOptions, Sample } from './types';
import { MapTransform } from './types';

const LETTERS: Record<string, [number, number]> = { R: [0, 1], L: [0, -1], A: [1, 1], P: [1, -1], S: [2, 1], I: [2, -1] };

function parseAxcodes(codes: unknown): { world: number[]; sign: number[] } {
  if (typeof codes !== 'string' || codes.length !== 3) throw invalidArg('axcodes', `expected three letters like 'RAS' or 'LPS', got ${describeValue(codes)}`);
  const world: number[] = [];
  const sign: number[] = [];
  for (const ch of codes.toUpperCase()) {
    const l = LETTERS[ch];
    if (!l) throw invalidArg('axcodes', `unknown letter ${JSON.stringify(ch)} in ${JSON.stringify(codes)} (use R/L, A/P, S/I)`);
    world.push(l[0]);
    sign.push(l[1]);
  }
  if (new Set(world).size !== 3) throw invalidArg('axcodes', `${JSON.stringify(codes)} names a world axis twice`);
  return { world, sign };
}

/**
 * Reorients `vol` so its voxel axes run along `axcodes` (default 'RAS', via io's `toCanonical`,
 * which also rebuilds the header). The affine follows, so world positions are unchanged.
 */
export function orientation<T extends VoxelArray>(vol: Volume<T>, axcodes = 'RAS'): Volume<T> {
  const target = parseAxcodes(axcodes);
  if (axcodes.toUpperCase() === 'RAS') return toCanonical(vol).volume;
  const src = ioOrientation(vol.affine);
  const map: AxisMap = { axis: [0, 1, 2], sign: [1, 1, 1] };
  for (let d = 0; d < 3; d++) {
    const a = src.axes.indexOf(target.world[d] as 0 | 1 | 2);
    map.axis[d] = a;
    map.sign[d] = src.flips[a] * target.sign[d];
  }
  if (map.axis.every((a, d) => a === d) && map.sign.every((s) => s === 1)) return vol;
  return axisMapVolume(vol, map);
}

/** Options of {@link Orientationd}. */
export interface OrientationdOptions extends KeysOptions {
  /** Target axis codes. Default 'RAS'. */
  axcodes?: string;
}

/** Dictionary form of {@link orientation}. */
export class Orientationd extends MapTransform<OrientationdOptions> {
  readonly name = 'Orientationd';

  constructor(options: OrientationdOptions) {
    super(options);
    parseAxcodes(options.axcodes ?? 'RAS');
  }

  apply(sample: Sample): Sample {
    return this.mapKeys(sample, (v) => orientation(v, this.options.axcodes ?? 'RAS'));
  }
}
