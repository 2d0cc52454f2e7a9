/**
 * Reading a DICOM Segmentation object (BINARY or FRACTIONAL) back into a label volume: on the grid
 * of a reference CT when one is given (frames placed by their referenced SOP Instance UID, or else
 * by their plane position), or else on the grid its own frames describe.
 */
import * as dcmjs from 'dcmjs';
import { describeValue, fileError, invalidArg, LiversegError } from '../../errors';
import { invertAffine } from '../../geometry/affine';
import type { Vec3, Volume } from '../../volume';
import { dicomAffine, directions } from './geometry';
import { resolveLimits } from './limits';
import { isPart10, parseFile } from './parse';
import { SEG_SOP_CLASS_UID } from './seg-write';
import { openSource, DicomSource } from './sources';

export interface LoadDicomSegOptions {
  /** The CT the SEG refers to (from `loadDicomSeries`): the mask is put on its grid. */
  reference?: Volume;
  /** Read only this segment (as 1). Default: every segment, each voxel set to its segment number. */
  segmentNumber?: number;
}

export interface DicomSegInfo {
  segments: Array<{ number: number; label: string; category: string; type: string; algorithmType: string; algorithmName: string }>;
  referencedSeriesInstanceUid: string;
  frameOfReferenceUid: string;
  sopInstanceUid: string;
  frames: number;
}

type Ds = Record<string, unknown>;

const first = (v: unknown): Ds => (Array.isArray(v) ? ((v[0] ?? {}) as Ds) : v && typeof v === 'object' ? (v as Ds) : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
const numbers = (v: unknown): number[] => asArray(v).map(Number);
const text = (v: unknown): string => (v === undefined || v === null ? '' : String(Array.isArray(v) ? (v[0] ?? '') : v));

function segError(file: string, problem: string): LiversegError {
  return fileError('ERR_DICOM_SEG', file, problem);
}

/**
 * Reads a DICOM SEG file (a path or a Buffer) into a uint8 label volume with a `seg` description.
 * Rejects with ERR_DICOM_SEG when the file is not a Segmentation or its frames cannot be placed.
 * @example
 * const ct = await loadDicomSeries('ct/');
 * const mask = await loadDicomSeg('liver.seg.dcm', { reference: ct });
 */
export async function loadDicomSeg(source: string | Uint8Array, options: LoadDicomSegOptions = {}): Promise<Volume<Uint8Array> & { seg: DicomSegInfo }> {
  if (options === null || typeof options !== 'object') throw invalidArg('options', `expected an object, got ${describeValue(options)}`);
  const limits = resolveLimits({});
  const opened = await openSource(source as DicomSource, limits);
  let bytes: Buffer;
  let file: string;
  try {
    if (opened.entries.length !== 1)
      throw segError(typeof source === 'string' ? source : '<buffer>', `expected one SEG file, found ${opened.entries.length} files`);
    file = opened.entries[0].name;
    bytes = await opened.entries[0].read();
  } finally {
    opened.close();
  }
  if (!isPart10(bytes)) throw segError(file, 'not a DICOM Part 10 file');
  const parsed = await parseFile(bytes, file, limits, true);
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict) as Ds;
  if (parsed.header.sopClassUid !== SEG_SOP_CLASS_UID) throw segError(file, `is not a Segmentation (SOP Class ${parsed.header.sopClassUid || 'missing'})`);
  const type = text(ds.SegmentationType);
  if (type !== 'BINARY' && type !== 'FRACTIONAL') throw segError(file, `SegmentationType ${type || '(missing)'} is not BINARY or FRACTIONAL`);
  if (parsed.header.transferSyntaxUid !== '1.2.840.10008.1.2.1' && parsed.header.transferSyntaxUid !== '1.2.840.10008.1.2') {
    throw fileError(
      'ERR_DICOM_TRANSFER_SYNTAX',
      file,
      `SEG in transfer syntax ${parsed.header.transferSyntaxUid} is not supported (explicit or implicit VR little endian)`,
    );
  }
  const rows = Number(ds.Rows);
  const cols = Number(ds.Columns);
  const nFrames = Number(ds.NumberOfFrames ?? 1);
  if (!(rows > 0 && cols > 0 && nFrames > 0)) throw segError(file, `impossible size ${cols}x${rows}x${nFrames}`);
  const perFrame = rows * cols;
  const pxParts = asArray((parsed.dict['7FE00010']?.Value ?? []) as unknown[]).filter((p): p is ArrayBuffer => p instanceof ArrayBuffer);
  const pixels = pxParts.length === 1 ? new Uint8Array(pxParts[0]) : new Uint8Array(0);
  const needed = type === 'BINARY' ? Math.ceil((perFrame * nFrames) / 8) : perFrame * nFrames;
  if (pixels.length < needed) throw segError(file, `PixelData has ${pixels.length} bytes, ${nFrames} frames of ${cols}x${rows} need ${needed}`);
  const maxFraction = Number(ds.MaximumFractionalValue ?? 255);
  const pixel = (f: number, i: number): boolean => {
    const b = f * perFrame + i;
    return type === 'BINARY' ? (pixels[b >> 3] & (1 << (b & 7))) !== 0 : pixels[b] * 2 > maxFraction;
  };

  const shared = first(ds.SharedFunctionalGroupsSequence);
  const perFrameGroups = asArray(ds.PerFrameFunctionalGroupsSequence) as Ds[];
  if (perFrameGroups.length !== nFrames) throw segError(file, `has ${perFrameGroups.length} per-frame functional groups for ${nFrames} frames`);
  const group = (f: number, name: string): Ds => first((perFrameGroups[f] as Ds)[name] ?? shared[name]);
  const iop = numbers(group(0, 'PlaneOrientationSequence').ImageOrientationPatient);
  const measures = group(0, 'PixelMeasuresSequence');
  const pixelSpacing = numbers(measures.PixelSpacing);
  const frames = perFrameGroups.map((_, f) => ({
    position: numbers(group(f, 'PlanePositionSequence').ImagePositionPatient) as Vec3,
    segment: Number(group(f, 'SegmentIdentificationSequence').ReferencedSegmentNumber ?? 1),
    sop: text(first(first(group(f, 'DerivationImageSequence').SourceImageSequence)).ReferencedSOPInstanceUID),
  }));
  if (iop.length !== 6 || pixelSpacing.length !== 2 || frames.some((f) => f.position.length !== 3 || f.position.some((v) => !Number.isFinite(v)))) {
    throw segError(file, 'frames lack ImageOrientationPatient, PixelSpacing or ImagePositionPatient');
  }

  const segments = (asArray(ds.SegmentSequence) as Ds[]).map((s) => ({
    number: Number(s.SegmentNumber),
    label: text(s.SegmentLabel),
    category: text(first(s.SegmentedPropertyCategoryCodeSequence).CodeMeaning),
    type: text(first(s.SegmentedPropertyTypeCodeSequence).CodeMeaning),
    algorithmType: text(s.SegmentAlgorithmType),
    algorithmName: text(s.SegmentAlgorithmName),
  }));
  const seg: DicomSegInfo = {
    segments,
    referencedSeriesInstanceUid: text(first(ds.ReferencedSeriesSequence).SeriesInstanceUID),
    frameOfReferenceUid: text(ds.FrameOfReferenceUID),
    sopInstanceUid: parsed.header.sopInstanceUid,
    frames: nFrames,
  };
  const wanted = options.segmentNumber;
  if (wanted !== undefined && !segments.some((s) => s.number === wanted)) throw invalidArg('options.segmentNumber', `${wanted} is not a segment of ${file}`);

  // Each frame's slice index k on the output grid.
  let shape: Vec3;
  let affine: number[][];
  let spacing: Vec3;
  const sliceOf: number[] = [];
  const ref = options.reference;
  if (ref) {
    if (ref.shape[0] !== cols || ref.shape[1] !== rows)
      throw invalidArg('options.reference', `has ${ref.shape[0]}x${ref.shape[1]} slices, the SEG ${cols}x${rows} frames`, 'ERR_GEOMETRY_MISMATCH');
    shape = [...ref.shape];
    affine = ref.affine.map((r) => [...r]);
    spacing = [...ref.spacing];
    const bySop = new Map((ref.dicom?.slices ?? []).map((s, k) => [s.sopInstanceUid, k] as const));
    const inv = invertAffine(ref.affine);
    for (const [f, fr] of frames.entries()) {
      let k = fr.sop ? bySop.get(fr.sop) : undefined;
      if (k === undefined) {
        // Place by position: the frame's origin in the reference's voxel coordinates must be (0, 0, k).
        const ras = [-fr.position[0], -fr.position[1], fr.position[2]];
        const v = [0, 1, 2].map((r) => inv[r][0] * ras[0] + inv[r][1] * ras[1] + inv[r][2] * ras[2] + inv[r][3]);
        const kk = Math.round(v[2]);
        if (Math.abs(v[0]) > 0.05 || Math.abs(v[1]) > 0.05 || Math.abs(v[2] - kk) > 0.05 || kk < 0 || kk >= shape[2]) {
          throw segError(file, `frame ${f + 1} (position ${fr.position.join('\\')}) is not a slice of the reference series`);
        }
        k = kk;
      }
      sliceOf.push(k);
    }
  } else {
    const { normal } = directions(iop);
    const d = frames.map((fr) => fr.position[0] * normal[0] + fr.position[1] * normal[1] + fr.position[2] * normal[2]);
    const order = d.map((_, i) => i).sort((a, b) => d[a] - d[b]);
    const declared = Number(measures.SpacingBetweenSlices ?? measures.SliceThickness);
    const gaps = order
      .slice(1)
      .map((o, i) => d[o] - d[order[i]])
      .filter((g) => g > 1e-3);
    const step = declared > 0 ? declared : gaps.length ? Math.min(...gaps) : 1;
    const d0 = d[order[0]];
    const nk = Math.round((d[order[order.length - 1]] - d0) / step) + 1;
    const origin = frames[order[0]].position;
    shape = [cols, rows, nk];
    affine = dicomAffine(iop, origin, [pixelSpacing[0], pixelSpacing[1]], [normal[0] * step, normal[1] * step, normal[2] * step]);
    spacing = [pixelSpacing[1], pixelSpacing[0], step];
    for (const di of d) sliceOf.push(Math.round((di - d0) / step));
  }

  const out = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let f = 0; f < nFrames; f++) {
    const segNo = frames[f].segment;
    if (wanted !== undefined && segNo !== wanted) continue;
    const value = wanted !== undefined ? 1 : Math.min(255, segNo);
    const off = sliceOf[f] * perFrame;
    for (let i = 0; i < perFrame; i++) if (pixel(f, i)) out[off + i] = value;
  }
  return { data: out, shape, spacing, affine, seg };
}
