/**
 * DICOM series in, a Volume in Hounsfield units out.
 *
 * 1. Scan: every entry of the source is read (its first 64 KiB where that holds the header) and
 *    parsed up to PixelData. Files that are not DICOM, or are not images, are skipped and reported.
 * 2. Group: instances by SeriesInstanceUID (or, where an anonymiser emptied it, by the study,
 *    series number, description, modality, frame of reference and series time); within a series by
 *    stack (orientation, size, pixel spacing). Localizers (ImageType LOCALIZER) and small stacks of
 *    another orientation or size are left out and reported; two large stacks are ERR_DICOM_GEOMETRY.
 * 3. Select: `seriesUid`, a `selector`, or the CT series with the most slices.
 * 4. Geometry: slices sorted along the normal, spacing from the positions; a gantry tilt, a missing
 *    slice or uneven spacing is ERR_DICOM_GEOMETRY unless `resample: true`.
 * 5. Pixels: each file is read again in full and its frame decoded (compressed frames on worker
 *    threads where available), bits outside BitsStored masked, RescaleSlope/Intercept applied per
 *    slice. Data is Int16Array when every slice's rescale is integral and the values fit, else
 *    Float32Array.
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import { describeValue, fileError, invalidArg, LiversegError, throwIfAborted } from '../../errors';
import type { DicomDescription, Vec3, Volume } from '../../volume';
import { decodeNative, FrameFormat, frameErrorToLiverseg, StoredFrame, TRANSFER_SYNTAXES } from './codecs';
import { createFrameDecoder, FrameDecoder } from './decode-pool';
import { dicomAffine, directions, hasTilt, planeName, stackGeometry, StackGeometry, validOrientation } from './geometry';
import { checkAllocation, DicomLimits, resolveLimits, ResolvedLimits } from './limits';
import { HEAD_BYTES, InstanceHeader, isPart10, parseFile } from './parse';
import { DicomEntry, DicomSource, openSource, OpenedSource, SkippedFile } from './sources';

/** A series found in a source, as {@link listDicomSeries} reports it and a `selector` sees it. */
export interface DicomSeriesInfo {
  /** SeriesInstanceUID, or `anon-` and a hash of the series' attributes when the UID is empty. Pass it as `seriesUid`. */
  key: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  modality: string;
  description: string;
  number: string;
  /** Slices in the series' main stack (the one that would be loaded). */
  slices: number;
  rows: number;
  columns: number;
  plane: 'axial' | 'coronal' | 'sagittal' | 'oblique' | 'unknown';
  transferSyntaxUids: string[];
  /** Instances left out of the main stack (localizers, other orientations or sizes), and why. */
  excluded: SkippedFile[];
}

export interface DicomInventory {
  series: DicomSeriesInfo[];
  /** Files that are not DICOM images, and why. */
  skipped: SkippedFile[];
  /** The series the default rule would load (the CT series with the most slices), or null. */
  defaultKey: string | null;
}

export interface LoadDicomSeriesOptions extends DicomLimits {
  /** Load this series: a SeriesInstanceUID, or a `key` from {@link listDicomSeries}. */
  seriesUid?: string;
  /** Picks the series from those found (return one of them or its key); overrides the default rule. */
  selector?: (series: DicomSeriesInfo[]) => DicomSeriesInfo | string | null | undefined;
  /**
   * Resample slices that are not a regular grid (a gantry tilt, a missing slice, uneven spacing)
   * onto one, by linear interpolation, instead of refusing them with ERR_DICOM_GEOMETRY. The
   * volume is then Float32Array and `dicom.resampled` is true. Default false.
   */
  resample?: boolean;
  /**
   * Worker threads for compressed frames (0: the main thread). Default: one per 128 MiB of volume,
   * 1 to min(4, cores), since each thread's WebAssembly codec holds about 50 MiB; so a load's peak
   * memory stays under twice the volume's size.
   */
  threads?: number;
  signal?: AbortSignal;
  /** Called after each slice is decoded. */
  onProgress?: (done: number, total: number) => void;
}

interface Instance {
  entry: DicomEntry;
  header: InstanceHeader;
}

interface Stack {
  members: Instance[];
}

interface SeriesGroup {
  info: DicomSeriesInfo;
  main: Instance[];
  /** Why the main stack cannot be a volume, when it cannot (missing geometry attributes). */
  problem: LiversegError | null;
}

const SCAN_CONCURRENCY = 8;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>, signal?: AbortSignal): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      throwIfAborted(signal, 'loadDicomSeries()');
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/** Reads every entry's header; returns the image instances and what was skipped. */
async function scan(
  opened: OpenedSource,
  limits: ResolvedLimits,
  signal?: AbortSignal,
): Promise<{ instances: Instance[]; skipped: SkippedFile[]; failures: LiversegError[] }> {
  const skipped: SkippedFile[] = [...opened.skipped];
  const failures: LiversegError[] = [];
  let total = 0;
  const found = await mapLimit(
    opened.entries,
    SCAN_CONCURRENCY,
    async (entry): Promise<Instance | null> => {
      let head = await entry.readHead(HEAD_BYTES);
      total += head.length;
      if (!isPart10(head)) {
        skipped.push({ file: entry.name, reason: 'not a DICOM file (no DICM prefix)' });
        return null;
      }
      let header: InstanceHeader | null = null;
      try {
        header = (await parseFile(head, entry.name, limits, false)).header;
      } catch (e) {
        if (head.length >= entry.size) {
          failures.push(e as LiversegError);
          skipped.push({ file: entry.name, reason: (e as Error).message });
          return null;
        }
      }
      if ((!header || !header.hasPixelData) && head.length < entry.size) {
        head = await entry.read();
        total += head.length;
        try {
          header = (await parseFile(head, entry.name, limits, false)).header;
        } catch (e) {
          failures.push(e as LiversegError);
          skipped.push({ file: entry.name, reason: (e as Error).message });
          return null;
        }
      }
      if (total > limits.maxTotalBytes)
        throw fileError('ERR_DICOM_TOO_LARGE', entry.name, `the source holds more than maxTotalBytes (${limits.maxTotalBytes}) bytes`);
      const h = header as InstanceHeader;
      if (!h.hasPixelData || h.rows <= 0 || h.columns <= 0) {
        skipped.push({ file: entry.name, reason: `not an image (no PixelData${h.modality ? `; modality ${h.modality}` : ''})` });
        return null;
      }
      return { entry, header: h };
    },
    signal,
  );
  skipped.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { instances: found.filter((x): x is Instance => x !== null), skipped, failures };
}

function seriesKey(h: InstanceHeader): string {
  if (h.seriesInstanceUid) return h.seriesInstanceUid;
  const parts = [h.studyInstanceUid, h.seriesNumber, h.modality, h.seriesDescription, h.frameOfReferenceUid, h.seriesDate, h.seriesTime];
  return 'anon-' + createHash('sha256').update(parts.join('\\')).digest('hex').slice(0, 12);
}

function sameStack(a: InstanceHeader, b: InstanceHeader): boolean {
  if (a.rows !== b.rows || a.columns !== b.columns || a.samplesPerPixel !== b.samplesPerPixel) return false;
  if (a.bitsAllocated !== b.bitsAllocated || a.pixelRepresentation !== b.pixelRepresentation) return false;
  const ia = a.imageOrientationPatient;
  const ib = b.imageOrientationPatient;
  if (!ia || !ib) return !ia && !ib;
  if (ia.some((v, i) => Math.abs(v - ib[i]) > 1e-3)) return false;
  const pa = a.pixelSpacing;
  const pb = b.pixelSpacing;
  if (!pa || !pb) return !pa && !pb;
  return Math.abs(pa[0] - pb[0]) <= 1e-3 * pa[0] && Math.abs(pa[1] - pb[1]) <= 1e-3 * pa[1];
}

/** A small stack next to a large one is a scout or a stray image; a second large one makes the series ambiguous. */
const STRAY_STACK_MAX = 3;

function missingGeometry(h: InstanceHeader): string | null {
  if (!h.imagePositionPatient) return 'ImagePositionPatient (0020,0032)';
  if (!validOrientation(h.imageOrientationPatient)) return 'ImageOrientationPatient (0020,0037)';
  if (!h.pixelSpacing || !(h.pixelSpacing[0] > 0 && h.pixelSpacing[1] > 0)) return 'PixelSpacing (0028,0030)';
  return null;
}

function groupSeries(instances: Instance[]): SeriesGroup[] {
  const bySeries = new Map<string, Instance[]>();
  for (const inst of instances) {
    const k = seriesKey(inst.header);
    const list = bySeries.get(k);
    if (list) list.push(inst);
    else bySeries.set(k, [inst]);
  }
  const groups: SeriesGroup[] = [];
  for (const [key, members] of bySeries) {
    const excluded: SkippedFile[] = [];
    const stacks: Stack[] = [];
    for (const inst of members) {
      const h = inst.header;
      if (h.imageType.includes('LOCALIZER')) {
        excluded.push({ file: inst.entry.name, reason: 'localizer (ImageType LOCALIZER)' });
        continue;
      }
      if (h.numberOfFrames > 1) {
        excluded.push({ file: inst.entry.name, reason: `multi-frame instance (${h.numberOfFrames} frames): liverseg reads single-frame slices` });
        continue;
      }
      if (h.samplesPerPixel !== 1) {
        excluded.push({ file: inst.entry.name, reason: `colour image (SamplesPerPixel ${h.samplesPerPixel}, ${h.photometricInterpretation})` });
        continue;
      }
      const stack = stacks.find((s) => sameStack(s.members[0].header, h));
      if (stack) stack.members.push(inst);
      else stacks.push({ members: [inst] });
    }
    stacks.sort((a, b) => b.members.length - a.members.length);
    const main = stacks[0]?.members ?? [];
    let problem: LiversegError | null = null;
    for (const other of stacks.slice(1)) {
      const h = other.members[0].header;
      const what = `${h.columns}x${h.rows}, ${h.imageOrientationPatient ? planeName(h.imageOrientationPatient) : 'no orientation'}`;
      if (other.members.length > STRAY_STACK_MAX && main.length > 0) {
        problem ??= fileError(
          'ERR_DICOM_GEOMETRY',
          key,
          `mixed orientations or sizes in one series: ${main.length} slices like ${main[0].entry.name} and ${other.members.length} like ${other.members[0].entry.name} (${what}); ` +
            `separate them into two folders`,
        );
      }
      for (const m of other.members) excluded.push({ file: m.entry.name, reason: `other orientation or size than the main stack (${what})` });
    }
    const h0 = main[0]?.header ?? members[0].header;
    if (main.length > 0 && !problem) {
      const miss = main.map((m) => ({ m, what: missingGeometry(m.header) })).find((x) => x.what !== null);
      if (miss) problem = fileError('ERR_DICOM_GEOMETRY', miss.m.entry.name, `has no valid ${miss.what}, so the slices cannot be placed in space`);
    }
    const syntaxes = [...new Set(main.map((m) => m.header.transferSyntaxUid))].sort();
    groups.push({
      info: {
        key,
        seriesInstanceUid: h0.seriesInstanceUid,
        studyInstanceUid: h0.studyInstanceUid,
        modality: h0.modality,
        description: h0.seriesDescription,
        number: h0.seriesNumber,
        slices: main.length,
        rows: h0.rows,
        columns: h0.columns,
        plane: validOrientation(h0.imageOrientationPatient) ? planeName(h0.imageOrientationPatient as number[]) : 'unknown',
        transferSyntaxUids: syntaxes,
        excluded: excluded.sort((a, b) => (a.file < b.file ? -1 : 1)),
      },
      main,
      problem,
    });
  }
  return groups.sort((a, b) => (a.info.key < b.info.key ? -1 : 1));
}

/** The default rule: the CT series with the most slices (largest images break ties); any modality when there is no CT. */
function defaultSeries(groups: SeriesGroup[]): SeriesGroup | undefined {
  const usable = groups.filter((g) => g.main.length > 0);
  const ct = usable.filter((g) => g.info.modality.toUpperCase() === 'CT');
  const pool = ct.length ? ct : usable;
  return [...pool].sort((a, b) => b.info.slices - a.info.slices || b.info.rows * b.info.columns - a.info.rows * a.info.columns)[0];
}

function noSeriesError(source: string, skipped: SkippedFile[], failures: LiversegError[], found: number): LiversegError {
  if (found === 0 && failures.length > 0) {
    const first = failures[0];
    return new LiversegError(first.code, failures.length > 1 ? `${first.message} (and ${failures.length - 1} other unreadable file(s))` : first.message, {
      path: first.path,
      cause: first,
    });
  }
  const reasons = [...new Set(skipped.map((s) => s.reason))].slice(0, 3).join('; ');
  return fileError('ERR_DICOM_NO_SERIES', source, `no DICOM image series found (${skipped.length} file(s) skipped${reasons ? `: ${reasons}` : ''})`);
}

function sourceName(source: DicomSource): string {
  if (typeof source === 'string') return source;
  if (source instanceof Uint8Array) return '<buffer>';
  return source.length === 1 && typeof source[0] === 'string' ? source[0] : `<${source.length} files>`;
}

async function inventory(source: DicomSource, limits: ResolvedLimits, signal?: AbortSignal) {
  const opened = await openSource(source, limits);
  try {
    const scanned = await scan(opened, limits, signal);
    return { opened, ...scanned, groups: groupSeries(scanned.instances) };
  } catch (e) {
    opened.close();
    throw e;
  }
}

/**
 * Lists the DICOM series in a folder, zip, file list or Buffers, without decoding any pixels.
 * @example
 * const { series, defaultKey } = await listDicomSeries('study/');
 * for (const s of series) console.log(s.key, s.modality, s.description, s.slices);
 */
export async function listDicomSeries(source: DicomSource, options: DicomLimits & { signal?: AbortSignal } = {}): Promise<DicomInventory> {
  const limits = resolveLimits(options ?? {});
  const inv = await inventory(source, limits, options.signal);
  inv.opened.close();
  return { series: inv.groups.map((g) => g.info), skipped: inv.skipped, defaultKey: defaultSeries(inv.groups)?.info.key ?? null };
}

function checkOptions(o: LoadDicomSeriesOptions): void {
  if (o === null || typeof o !== 'object') throw invalidArg('options', `expected an object, got ${describeValue(o)}`);
  if (o.seriesUid !== undefined && (typeof o.seriesUid !== 'string' || o.seriesUid === ''))
    throw invalidArg('options.seriesUid', `expected a non-empty string, got ${describeValue(o.seriesUid)}`);
  if (o.selector !== undefined && typeof o.selector !== 'function') throw invalidArg('options.selector', 'expected a function');
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 0))
    throw invalidArg('options.threads', `expected a non-negative integer, got ${describeValue(o.threads)}`);
}

function pick(groups: SeriesGroup[], o: LoadDicomSeriesOptions, source: string): SeriesGroup {
  const keys = groups
    .map((g) => `${g.info.key} (${g.info.modality || '?'}, ${g.info.slices} slices${g.info.description ? `, ${g.info.description}` : ''})`)
    .join('; ');
  const find = (k: string): SeriesGroup => {
    const g = groups.find((x) => x.info.key === k || (x.info.seriesInstanceUid !== '' && x.info.seriesInstanceUid === k));
    if (!g) throw fileError('ERR_DICOM_NO_SERIES', source, `no series ${k}; found: ${keys}`);
    return g;
  };
  if (o.seriesUid !== undefined) return find(o.seriesUid);
  if (o.selector) {
    const chosen = o.selector(groups.map((g) => g.info));
    if (chosen === null || chosen === undefined) throw fileError('ERR_DICOM_NO_SERIES', source, `the selector chose none of the series found: ${keys}`);
    return find(typeof chosen === 'string' ? chosen : chosen.key);
  }
  const g = defaultSeries(groups);
  if (!g) throw fileError('ERR_DICOM_NO_SERIES', source, `no series with usable image slices; found: ${keys}`);
  return g;
}

function geometryError(g: StackGeometry, slices: Instance[], series: string): LiversegError | null {
  const name = (k: number): string => slices[g.order[k]].entry.name;
  if (hasTilt(g)) {
    const tilt = slices[0].header.gantryTilt;
    return fileError(
      'ERR_DICOM_GEOMETRY',
      series,
      `the slices are sheared: their positions run ${g.tiltDegrees.toFixed(2)} degrees off the slice normal (a gantry tilt${tilt ? `; GantryDetectorTilt ${tilt}` : ''}); ` +
        `pass { resample: true } (liverseg-segment --resample) to resample them onto an orthogonal grid`,
    );
  }
  const p = g.spacingProblems[0];
  if (!p) return null;
  const where = `between ${name(p.at)} and ${name(p.at + 1)} (${g.distances[p.at].toFixed(2)} and ${g.distances[p.at + 1].toFixed(2)} mm along the normal)`;
  const what =
    p.kind === 'missing-slice'
      ? `${Math.round(p.gap / p.spacing) - 1} missing slice(s) ${where}: a gap of ${p.gap.toFixed(3)} mm where the spacing is ${p.spacing.toFixed(3)} mm`
      : `uneven slice spacing ${where}: ${p.gap.toFixed(3)} mm where the spacing is ${p.spacing.toFixed(3)} mm${g.spacingProblems.length > 1 ? ` (and ${g.spacingProblems.length - 1} more place(s))` : ''}`;
  return fileError('ERR_DICOM_GEOMETRY', series, `${what}; pass { resample: true } (liverseg-segment --resample) to interpolate onto even spacing`);
}

type StoredArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

function storedArray(h: InstanceHeader, n: number): StoredArray {
  const signed = h.pixelRepresentation === 1;
  switch (h.bitsAllocated) {
    case 8:
      return signed ? new Int8Array(n) : new Uint8Array(n);
    case 16:
      return signed ? new Int16Array(n) : new Uint16Array(n);
    case 32:
      return signed ? new Int32Array(n) : new Uint32Array(n);
    default:
      throw fileError('ERR_DICOM_PIXEL_DATA', h.file, `BitsAllocated ${h.bitsAllocated} is not supported for CT slices (8, 16 or 32)`);
  }
}

/**
 * Copies a frame's stored values into the slice, keeping only the BitsStored low bits
 * (sign-extended when signed), and returns their range.
 */
function placeFrame(frame: StoredFrame, into: StoredArray, offset: number, h: InstanceHeader): [number, number] {
  const n = h.rows * h.columns;
  if (frame.length < n) throw fileError('ERR_DICOM_PIXEL_DATA', h.file, `decoded frame has ${frame.length} samples, expected ${n}`);
  const bits = h.bitsStored;
  if (bits >= h.bitsAllocated || bits <= 0) {
    into.set(frame.subarray(0, n) as never, offset);
  } else {
    const mask = 2 ** bits - 1;
    if (h.pixelRepresentation === 1) {
      const shift = 32 - bits;
      for (let i = 0; i < n; i++) into[offset + i] = ((frame[i] & mask) << shift) >> shift;
    } else {
      for (let i = 0; i < n; i++) into[offset + i] = frame[i] & mask;
    }
  }
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = offset; i < offset + n; i++) {
    const v = into[i];
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  return [mn, mx];
}

/** Voxels converted between yields to the event loop (a few milliseconds of work). */
const YIELD_VOXELS = 1 << 21;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function frameFormat(h: InstanceHeader): FrameFormat {
  return {
    transferSyntaxUid: h.transferSyntaxUid,
    rows: h.rows,
    columns: h.columns,
    samplesPerPixel: h.samplesPerPixel,
    bitsAllocated: h.bitsAllocated,
    pixelRepresentation: h.pixelRepresentation,
  };
}

function joinBuffers(parts: ArrayBuffer[]): Uint8Array {
  if (parts.length === 1) return new Uint8Array(parts[0]);
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), o);
    o += p.byteLength;
  }
  return out;
}

/** Reads one slice's file in full and returns its decoded frame and the header it was read with. */
async function readSlice(
  inst: Instance,
  limits: ResolvedLimits,
  decoder: FrameDecoder,
): Promise<{ frame: StoredFrame; header: InstanceHeader; pooled: boolean }> {
  const bytes = await inst.entry.read();
  const parsed = await parseFile(bytes, inst.entry.name, limits, true);
  const h = parsed.header;
  const s = inst.header;
  if (h.rows !== s.rows || h.columns !== s.columns || h.bitsAllocated !== s.bitsAllocated || h.transferSyntaxUid !== s.transferSyntaxUid) {
    throw fileError('ERR_DICOM_PARSE', inst.entry.name, 'the file changed while it was being read');
  }
  const ts = TRANSFER_SYNTAXES[h.transferSyntaxUid];
  if (!ts)
    throw fileError(
      'ERR_DICOM_TRANSFER_SYNTAX',
      inst.entry.name,
      `transfer syntax ${h.transferSyntaxUid} is not supported (supported: ${Object.keys(TRANSFER_SYNTAXES).join(', ')})`,
    );
  const px = parsed.dict['7FE00010'];
  const parts = (Array.isArray(px?.Value) ? px.Value : []).filter((v): v is ArrayBuffer => v instanceof ArrayBuffer);
  if (parts.length === 0) throw fileError('ERR_DICOM_PIXEL_DATA', inst.entry.name, 'PixelData (7FE0,0010) is empty');
  try {
    if (ts.codec === 'native') return { frame: decodeNative(joinBuffers(parts), frameFormat(h), 0), header: h, pooled: false };
    // A single-frame image may be split into several fragments; they join into one code stream.
    return { frame: await decoder.decode(joinBuffers(parts), frameFormat(h)), header: h, pooled: true };
  } catch (e) {
    throw frameErrorToLiverseg(e, inst.entry.name);
  }
}

/** Linear interpolation of sheared or unevenly spaced slices onto an orthogonal, evenly spaced grid. */
function resampleStack(
  data: Float32Array,
  cols: number,
  rows: number,
  positions: Vec3[],
  iop: number[],
  pixelSpacing: [number, number],
  spacing: number,
): { data: Float32Array; nk: number } {
  const { row, col, normal } = directions(iop);
  const d = positions.map((p) => p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2]);
  const nk = Math.max(1, Math.round((d[d.length - 1] - d[0]) / spacing) + 1);
  const step = nk > 1 ? (d[d.length - 1] - d[0]) / (nk - 1) : 0;
  const n = cols * rows;
  let fill = Infinity;
  for (let i = 0; i < data.length; i++) if (data[i] < fill) fill = data[i];
  // In-plane offset of each slice's origin from the line through the first origin along the normal, in pixels.
  const offsets = positions.map((p, k) => {
    const o = [p[0] - positions[0][0], p[1] - positions[0][1], p[2] - positions[0][2]];
    const along = d[k] - d[0];
    const inPlane = [o[0] - along * normal[0], o[1] - along * normal[1], o[2] - along * normal[2]];
    return [
      (inPlane[0] * row[0] + inPlane[1] * row[1] + inPlane[2] * row[2]) / pixelSpacing[1],
      (inPlane[0] * col[0] + inPlane[1] * col[1] + inPlane[2] * col[2]) / pixelSpacing[0],
    ];
  });
  const sample = (k: number, x: number, y: number): number => {
    if (x < 0 || y < 0 || x > cols - 1 || y > rows - 1) return fill;
    const x0 = Math.min(Math.floor(x), cols - 2 < 0 ? 0 : cols - 2);
    const y0 = Math.min(Math.floor(y), rows - 2 < 0 ? 0 : rows - 2);
    const fx = cols > 1 ? x - x0 : 0;
    const fy = rows > 1 ? y - y0 : 0;
    const base = k * n + y0 * cols + x0;
    const x1 = cols > 1 ? 1 : 0;
    const y1 = rows > 1 ? cols : 0;
    const a = data[base] * (1 - fx) + data[base + x1] * fx;
    const b = data[base + y1] * (1 - fx) + data[base + y1 + x1] * fx;
    return a * (1 - fy) + b * fy;
  };
  const out = new Float32Array(n * nk);
  let lo = 0;
  for (let m = 0; m < nk; m++) {
    const t = d[0] + m * step;
    while (lo < d.length - 2 && d[lo + 1] < t) lo++;
    const hi = Math.min(lo + 1, d.length - 1);
    const w = hi === lo || d[hi] === d[lo] ? 0 : Math.min(1, Math.max(0, (t - d[lo]) / (d[hi] - d[lo])));
    for (let j = 0; j < rows; j++) {
      for (let i = 0; i < cols; i++) {
        const a = sample(lo, i - offsets[lo][0], j - offsets[lo][1]);
        const v = w === 0 ? a : a * (1 - w) + sample(hi, i - offsets[hi][0], j - offsets[hi][1]) * w;
        out[m * n + j * cols + i] = v;
      }
    }
  }
  return { data: out, nk };
}

function describe(h: InstanceHeader, syntaxes: string[], slices: DicomDescription['slices'], excluded: SkippedFile[], resampled: boolean): DicomDescription {
  return {
    patient: { ...h.patient },
    study: { instanceUid: h.studyInstanceUid, ...h.study },
    series: {
      instanceUid: h.seriesInstanceUid,
      number: h.seriesNumber,
      description: h.seriesDescription,
      modality: h.modality,
      frameOfReferenceUid: h.frameOfReferenceUid,
      manufacturer: h.manufacturer,
      bodyPartExamined: h.bodyPartExamined,
    },
    transferSyntaxUids: syntaxes,
    rows: h.rows,
    columns: h.columns,
    pixelSpacing: [...(h.pixelSpacing as [number, number])],
    imageOrientationPatient: [...(h.imageOrientationPatient as number[])],
    sliceThickness: h.sliceThickness,
    slices: resampled ? [] : slices,
    resampled,
    excluded,
  };
}

/**
 * Reads one DICOM CT series into a Volume in Hounsfield units, with the affine in RAS.
 *
 * `source` is a folder (searched recursively; any file names; non-DICOM files skipped), a .zip, a
 * file, a list of files and folders, or Buffers. The series is `options.seriesUid`, the choice of
 * `options.selector`, or else the CT series with the most slices. See the module comment for the
 * rules; `volume.dicom` describes the patient, study, series and each slice's instance.
 *
 * Rejects with ERR_FILE_NOT_FOUND, ERR_DICOM_NO_SERIES (nothing usable, or no such series),
 * ERR_DICOM_PARSE, ERR_DICOM_TRANSFER_SYNTAX (naming the UID), ERR_DICOM_PIXEL_DATA,
 * ERR_DICOM_GEOMETRY (tilt, missing slice, uneven spacing, mixed orientations, missing position
 * attributes), ERR_DICOM_TOO_LARGE, ERR_DICOM_ZIP or ERR_ABORTED; each names the file or series.
 * @example
 * const ct = await loadDicomSeries('patient/study/');
 * console.log(ct.shape, ct.dicom.series.description, ct.dicom.slices.length);
 */
export async function loadDicomSeries(source: DicomSource, options: LoadDicomSeriesOptions = {}): Promise<Volume & { dicom: DicomDescription }> {
  checkOptions(options);
  const limits = resolveLimits(options);
  const name = sourceName(source);
  const inv = await inventory(source, limits, options.signal);
  let decoder: FrameDecoder | undefined;
  try {
    if (inv.groups.length === 0) throw noSeriesError(name, inv.skipped, inv.failures, inv.instances.length);
    const group = pick(inv.groups, options, name);
    if (group.problem) throw group.problem;
    if (group.main.length === 0)
      throw fileError('ERR_DICOM_NO_SERIES', group.info.key, `series has no usable image slices (${group.info.excluded.map((e) => e.reason)[0] ?? 'none'})`);
    const label = `series ${group.info.key}`;
    const stack = group.main;
    const h0 = stack[0].header;
    const iop = h0.imageOrientationPatient as number[];
    const geo = stackGeometry(
      iop,
      stack.map((s) => ({ file: s.entry.name, position: s.header.imagePositionPatient as Vec3 })),
      label,
    );
    const irregular = geometryError(geo, stack, label);
    if (irregular && !options.resample) throw irregular;
    const sorted = geo.order.map((i) => stack[i]);
    const unsupported = sorted.find((s) => !TRANSFER_SYNTAXES[s.header.transferSyntaxUid]);
    if (unsupported) {
      throw fileError(
        'ERR_DICOM_TRANSFER_SYNTAX',
        unsupported.entry.name,
        `transfer syntax ${unsupported.header.transferSyntaxUid || '(none)'} is not supported (supported: ${Object.keys(TRANSFER_SYNTAXES).join(', ')})`,
      );
    }
    const cols = h0.columns;
    const rows = h0.rows;
    const nk = sorted.length;
    const perSlice = cols * rows;
    const voxels = perSlice * nk;
    checkAllocation(voxels * (h0.bitsAllocated / 8), voxels, limits, label, `the volume (${cols}x${rows}x${nk})`);
    const stored = storedArray(h0, voxels);
    decoder = createFrameDecoder(options.threads ?? defaultThreads(stored.byteLength));
    const frames = decoder;
    const headers = new Array<InstanceHeader>(nk);
    const ranges = new Array<[number, number]>(nk);
    let done = 0;
    const window = decoder.threads > 0 ? 2 * decoder.threads + 1 : 2;
    await mapLimit(
      sorted,
      window,
      async (inst, k) => {
        const { frame, header, pooled } = await readSlice(inst, limits, frames);
        ranges[k] = placeFrame(frame, stored, k * perSlice, header);
        if (pooled) frames.release(frame);
        headers[k] = header;
        options.onProgress?.(++done, nk);
      },
      options.signal,
    );
    throwIfAborted(options.signal, 'loadDicomSeries()');

    // Hounsfield units, slice by slice (each slice has its own rescale).
    const integral = headers.every((h) => Number.isInteger(h.rescaleSlope) && Number.isInteger(h.rescaleIntercept));
    let lo = Infinity;
    let hi = -Infinity;
    headers.forEach((h, k) => {
      const a = ranges[k][0] * h.rescaleSlope + h.rescaleIntercept;
      const b = ranges[k][1] * h.rescaleSlope + h.rescaleIntercept;
      lo = Math.min(lo, a, b);
      hi = Math.max(hi, a, b);
    });
    let data: Int16Array | Float32Array;
    if (integral && lo >= -32768 && hi <= 32767 && !(irregular && options.resample)) {
      // 16-bit stored values become int16 in place; other widths need a new array.
      data = stored.BYTES_PER_ELEMENT === 2 ? new Int16Array(stored.buffer, stored.byteOffset, voxels) : new Int16Array(voxels);
    } else {
      checkAllocation(voxels * 4, voxels, limits, label, 'the volume as float32');
      data = stored.BYTES_PER_ELEMENT === 4 ? new Float32Array(stored.buffer, stored.byteOffset, voxels) : new Float32Array(voxels);
    }
    let sinceYield = 0;
    for (const [k, h] of headers.entries()) {
      const slope = h.rescaleSlope;
      const inter = h.rescaleIntercept;
      const off = k * perSlice;
      if (slope === 1 && inter === 0 && data.buffer === stored.buffer && data.constructor === stored.constructor) continue;
      for (let i = off; i < off + perSlice; i++) data[i] = stored[i] * slope + inter;
      sinceYield += perSlice;
      if (sinceYield >= YIELD_VOXELS) {
        sinceYield = 0;
        await yieldToLoop();
      }
    }

    const positions = sorted.map((s) => s.header.imagePositionPatient as Vec3);
    const pixelSpacing = h0.pixelSpacing as [number, number];
    let outData: Int16Array | Float32Array = data;
    let outK = nk;
    let step: Vec3;
    const { normal } = directions(iop);
    if (irregular && options.resample) {
      const r = resampleStack(data as Float32Array, cols, rows, positions, iop, pixelSpacing, geo.spacing);
      outData = r.data;
      outK = r.nk;
      const total = geo.distances[nk - 1] - geo.distances[0];
      const s = outK > 1 ? total / (outK - 1) : geo.spacing || h0.sliceThickness || 1;
      step = [normal[0] * s, normal[1] * s, normal[2] * s];
    } else if (nk > 1) {
      const first = positions[0];
      const last = positions[nk - 1];
      step = [(last[0] - first[0]) / (nk - 1), (last[1] - first[1]) / (nk - 1), (last[2] - first[2]) / (nk - 1)];
    } else {
      // One slice: its thickness is the only extent there is.
      const s = h0.sliceThickness && h0.sliceThickness > 0 ? h0.sliceThickness : 1;
      step = [normal[0] * s, normal[1] * s, normal[2] * s];
    }
    const affine = dicomAffine(iop, positions[0], pixelSpacing, step);
    const spacing: Vec3 = [pixelSpacing[1], pixelSpacing[0], Math.hypot(step[0], step[1], step[2])];
    const syntaxes = [...new Set(sorted.map((s) => s.header.transferSyntaxUid))].sort();
    const slices = sorted.map((s, k) => ({
      sopInstanceUid: headers[k].sopInstanceUid,
      sopClassUid: headers[k].sopClassUid,
      imagePositionPatient: [...positions[k]] as Vec3,
      instanceNumber: headers[k].instanceNumber,
      file: s.entry.name,
    }));
    const resampled = Boolean(irregular && options.resample);
    return {
      data: outData,
      shape: [cols, rows, outK],
      spacing,
      affine,
      dicom: describe(headers[0], syntaxes, slices, group.info.excluded, resampled),
    };
  } finally {
    inv.opened.close();
    await decoder?.close();
  }
}

/** Decode threads for a volume of `bytes`: one per 128 MiB, at least 1, at most min(4, cores). */
function defaultThreads(bytes: number): number {
  return Math.max(1, Math.min(4, os.availableParallelism(), Math.floor(bytes / (128 * 2 ** 20))));
}
