/**
 * Writing a liver mask as a DICOM Segmentation object (PS3.3 A.51), with dcmjs's writer.
 *
 * One BINARY segment, "Liver" (SNOMED CT 10200004 "Liver", category 123037004 "Anatomical
 * Structure", as in DICOM CID 7150 / 7166), algorithm type AUTOMATIC, named after liverseg (name
 * and version) and the model. The SEG shares the CT's patient, study and Frame of Reference; it
 * lists the CT series and every slice it segments (Common Instance Reference), and each frame names
 * its source slice (Derivation Image) and carries that slice's position and the shared orientation
 * and pixel spacing. Slices without liver get no frame (a mask with no liver at all keeps one empty
 * frame, since a SEG cannot have none).
 */
import { fileError, invalidArg, LiversegError } from '../../errors';
import { affinesClose } from '../../geometry/affine';
import { packageVersion } from '../../util/package';
import { assertVolume, DicomDescription, Volume } from '../../volume';
import * as dcmjs from 'dcmjs';
import { writeBytesAtomic } from '../atomic-write';
import { IMPLEMENTATION_CLASS_UID, isValidUid, newUid } from './uid';

export const SEG_SOP_CLASS_UID = '1.2.840.10008.5.1.4.1.1.66.4';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** A coded concept as DICOM writes it. */
export interface Code {
  value: string;
  scheme: string;
  meaning: string;
}

/** SNOMED CT "Liver" and its category, as DICOM's context groups CID 7166 and CID 7150 list them. */
export const LIVER_CODE: Code = { value: '10200004', scheme: 'SCT', meaning: 'Liver' };
export const ANATOMICAL_STRUCTURE_CODE: Code = { value: '123037004', scheme: 'SCT', meaning: 'Anatomical Structure' };

export interface DicomSegOptions {
  /** The CT the mask was made on, as `loadDicomSeries` returned it (its `dicom` description is required). */
  reference: Volume;
  /** The model that made the mask, for the algorithm's identification. Default `{ name: 'liverseg model' }`. */
  model?: { name: string; version?: string };
  /** Default 'Liver segmentation (liverseg)'. */
  seriesDescription?: string;
  /** Default 9901. */
  seriesNumber?: number;
  /** New UIDs are made unless given (for instance to re-issue a SEG). */
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  /** Segment label. Default 'Liver'. */
  segmentLabel?: string;
  /** The creation time written into the object. Default now. */
  date?: Date;
}

export interface DicomSegResult {
  bytes: Buffer;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  /** Frames written (slices with liver, or 1 for an empty mask). */
  frames: number;
}

const code = (c: Code): Record<string, string> => ({ CodeValue: c.value, CodingSchemeDesignator: c.scheme, CodeMeaning: c.meaning });

function refError(problem: string): LiversegError {
  return new LiversegError('ERR_DICOM_REFERENCE', `Reference series: ${problem}`);
}

/**
 * Checks that a CT's DICOM description has every UID a SEG must point to, and throws
 * ERR_DICOM_REFERENCE naming the first missing attribute. Call it before segmenting to fail early.
 */
export function checkSegReference(d: DicomDescription | undefined): DicomDescription {
  if (!d) throw refError('the reference volume has no DICOM description (load it with loadDicomSeries); a SEG must refer to DICOM slices');
  if (d.resampled) throw refError("the reference volume was resampled, so its slices are not the files' slices a SEG must refer to");
  const need: Array<[string, string]> = [
    [d.study.instanceUid, 'StudyInstanceUID (0020,000D)'],
    [d.series.instanceUid, 'SeriesInstanceUID (0020,000E)'],
    [d.series.frameOfReferenceUid, 'FrameOfReferenceUID (0020,0052)'],
  ];
  for (const [v, name] of need) {
    if (!v) throw refError(`it has no ${name}, which a SEG must refer to (was the series anonymised down to empty UIDs?)`);
    if (!isValidUid(v)) throw refError(`its ${name} "${v}" is not a valid UID`);
  }
  d.slices.forEach((s, k) => {
    if (!s.sopInstanceUid) throw refError(`slice ${k + 1} (${s.file}) has no SOPInstanceUID (0008,0018), which each SEG frame must refer to`);
    if (!s.sopClassUid) throw refError(`slice ${k + 1} (${s.file}) has no SOPClassUID (0008,0016)`);
    if (!isValidUid(s.sopInstanceUid)) throw refError(`slice ${k + 1} (${s.file}) has an invalid SOPInstanceUID "${s.sopInstanceUid}"`);
  });
  return d;
}

function da(d: Date): string {
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}
function tm(d: Date): string {
  return `${String(d.getUTCHours()).padStart(2, '0')}${String(d.getUTCMinutes()).padStart(2, '0')}${String(d.getUTCSeconds()).padStart(2, '0')}`;
}

/** DS values: at most 16 characters. */
function ds(v: number): number {
  if (Number.isInteger(v) || String(v).length <= 16) return v;
  for (let p = 15; p > 0; p--) {
    const s = Number(v.toPrecision(p));
    if (String(s).length <= 16) return s;
  }
  return Math.round(v);
}

/** Packs frames of 0/1 pixels, one bit each, least significant bit first, frames back to back (PS3.5 8.1.1). */
function packBits(mask: ArrayLike<number>, frames: number[], perFrame: number): Uint8Array {
  const bits = frames.length * perFrame;
  const bytes = new Uint8Array(Math.ceil(bits / 8) + (Math.ceil(bits / 8) % 2));
  let b = 0;
  for (const k of frames) {
    const off = k * perFrame;
    for (let i = 0; i < perFrame; i++, b++) if (mask[off + i] !== 0) bytes[b >> 3] |= 1 << (b & 7);
  }
  return bytes;
}

/** Builds the SEG for a mask on the grid of a DICOM reference series. Pure: writes nothing. */
export function encodeDicomSeg(mask: Volume, options: DicomSegOptions): DicomSegResult {
  assertVolume(mask, 'mask');
  if (options === null || typeof options !== 'object') throw invalidArg('options', 'expected an object with a reference');
  const ref = options.reference;
  assertVolume(ref, 'options.reference');
  const d = checkSegReference(ref.dicom);
  if (!mask.shape.every((s, a) => s === ref.shape[a]) || !affinesClose(mask.affine, ref.affine, 1e-6, 1e-4)) {
    throw invalidArg(
      'mask',
      `is on a ${mask.shape.join('x')} grid that is not the reference series' (${ref.shape.join('x')}): a SEG frame must match a CT slice exactly`,
      'ERR_GEOMETRY_MISMATCH',
    );
  }
  const [cols, rows, nk] = ref.shape;
  if (d.slices.length !== nk || d.columns !== cols || d.rows !== rows)
    throw refError(`its description has ${d.slices.length} slices of ${d.columns}x${d.rows}, the volume ${cols}x${rows}x${nk}`);
  const perFrame = cols * rows;
  const data = mask.data;
  const withLiver: number[] = [];
  for (let k = 0; k < nk; k++) {
    const off = k * perFrame;
    for (let i = 0; i < perFrame; i++) {
      if (data[off + i] !== 0) {
        withLiver.push(k);
        break;
      }
    }
  }
  const frames = withLiver.length > 0 ? withLiver : [0];
  const now = options.date ?? new Date();
  const version = packageVersion();
  const model = options.model ?? { name: 'liverseg model' };
  const sopInstanceUid = options.sopInstanceUid ?? newUid();
  const seriesInstanceUid = options.seriesInstanceUid ?? newUid();
  for (const [v, n] of [
    [sopInstanceUid, 'options.sopInstanceUid'],
    [seriesInstanceUid, 'options.seriesInstanceUid'],
  ]) {
    if (!isValidUid(v)) throw invalidArg(n, `"${v}" is not a valid UID`);
  }
  const dimensionUid = newUid();
  const spacingBetween = ds(Math.hypot(ref.affine[0][2], ref.affine[1][2], ref.affine[2][2]));

  const dataset: Record<string, unknown> = {
    _vrMap: { PixelData: 'OB' },
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: SEG_SOP_CLASS_UID,
    SOPInstanceUID: sopInstanceUid,
    ImageType: ['DERIVED', 'PRIMARY'],
    InstanceCreationDate: da(now),
    InstanceCreationTime: tm(now),
    StudyDate: d.study.date,
    SeriesDate: da(now),
    ContentDate: da(now),
    StudyTime: d.study.time,
    SeriesTime: tm(now),
    ContentTime: tm(now),
    AccessionNumber: d.study.accessionNumber,
    Modality: 'SEG',
    Manufacturer: 'liverseg',
    ReferringPhysicianName: d.study.referringPhysicianName,
    StudyDescription: d.study.description || undefined,
    SeriesDescription: (options.seriesDescription ?? 'Liver segmentation (liverseg)').slice(0, 64),
    ManufacturerModelName: 'liverseg',
    PatientName: d.patient.name,
    PatientID: d.patient.id,
    PatientBirthDate: d.patient.birthDate,
    PatientSex: d.patient.sex,
    DeviceSerialNumber: 'none',
    SoftwareVersions: version,
    StudyInstanceUID: d.study.instanceUid,
    SeriesInstanceUID: seriesInstanceUid,
    StudyID: d.study.id,
    SeriesNumber: options.seriesNumber ?? 9901,
    InstanceNumber: 1,
    FrameOfReferenceUID: d.series.frameOfReferenceUid,
    PositionReferenceIndicator: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    NumberOfFrames: frames.length,
    Rows: rows,
    Columns: cols,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    ContentLabel: 'LIVER',
    ContentDescription: `Liver by liverseg ${version} (${model.name}${model.version ? ' ' + model.version : ''})`.slice(0, 64),
    // Type 2 and a person's name: empty, since no person made the segmentation.
    ContentCreatorName: '',
    SegmentationType: 'BINARY',
    SegmentSequence: [
      {
        SegmentNumber: 1,
        SegmentLabel: (options.segmentLabel ?? 'Liver').slice(0, 64),
        SegmentAlgorithmType: 'AUTOMATIC',
        // The name carries liverseg's version and the model's; the coded Segmentation Algorithm
        // Identification Sequence (Type 3) is left out rather than filled with a guessed family code.
        SegmentAlgorithmName: `liverseg ${version} ${model.name}${model.version ? ' ' + model.version : ''}`.slice(0, 64),
        SegmentedPropertyCategoryCodeSequence: [code(ANATOMICAL_STRUCTURE_CODE)],
        SegmentedPropertyTypeCodeSequence: [code(LIVER_CODE)],
        // Liver red-brown (sRGB 200, 80, 60) in DICOM's scaled CIELab.
        RecommendedDisplayCIELabValue: [30617, 43307, 39126],
      },
    ],
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionUid }],
    DimensionOrganizationType: '3D',
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionUid,
        DimensionIndexPointer: 0x0062000b,
        FunctionalGroupPointer: 0x0062000a,
        DimensionDescriptionLabel: 'Segment Number',
      },
      {
        DimensionOrganizationUID: dimensionUid,
        DimensionIndexPointer: 0x00200032,
        FunctionalGroupPointer: 0x00209113,
        DimensionDescriptionLabel: 'Image Position (Patient)',
      },
    ],
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: d.imageOrientationPatient.map(ds) }],
        PixelMeasuresSequence: [
          {
            PixelSpacing: d.pixelSpacing.map(ds),
            SliceThickness: ds(d.sliceThickness && d.sliceThickness > 0 ? d.sliceThickness : spacingBetween),
            SpacingBetweenSlices: spacingBetween,
          },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: frames.map((k) => ({
      FrameContentSequence: [{ DimensionIndexValues: [1, k + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: d.slices[k].imagePositionPatient.map(ds) }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: 1 }],
      DerivationImageSequence: [
        {
          SourceImageSequence: [
            {
              ReferencedSOPClassUID: d.slices[k].sopClassUid,
              ReferencedSOPInstanceUID: d.slices[k].sopInstanceUid,
              PurposeOfReferenceCodeSequence: [
                { CodeValue: '121322', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Source image for image processing operation' },
              ],
            },
          ],
          DerivationCodeSequence: [{ CodeValue: '113076', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Segmentation' }],
        },
      ],
    })),
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: d.series.instanceUid,
        ReferencedInstanceSequence: d.slices.map((s) => ({ ReferencedSOPClassUID: s.sopClassUid, ReferencedSOPInstanceUID: s.sopInstanceUid })),
      },
    ],
    PixelData: packBits(data, frames, perFrame).buffer,
  };
  for (const k of Object.keys(dataset)) if (dataset[k] === undefined) delete dataset[k];

  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SEG_SOP_CLASS_UID,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: `LIVERSEG_${version}`.slice(0, 16),
  });
  const dict = new DicomDict(meta);
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  let bytes: Buffer;
  try {
    bytes = Buffer.from(dict.write());
  } catch (e) {
    throw new LiversegError('ERR_DICOM_SEG', `DICOM SEG could not be encoded: ${(e as Error).message}`, { cause: e });
  }
  return { bytes, sopInstanceUid, seriesInstanceUid, frames: frames.length };
}

/**
 * Writes a liver mask as a DICOM SEG file (atomically) that refers to the CT series `options.reference`.
 * Rejects with ERR_DICOM_REFERENCE when the reference lacks a UID the SEG must point to (naming the
 * attribute), ERR_GEOMETRY_MISMATCH when the mask is not on the reference's grid, ERR_IO on write failure.
 * @example
 * const ct = await loadDicomSeries('ct-folder/');
 * const mask = await segment(ct, { model: 'pipeline.json' });
 * await saveDicomSeg('liver.seg.dcm', mask, { reference: ct, model: { name: 'pipeline.json' } });
 */
export async function saveDicomSeg(path: string, mask: Volume, options: DicomSegOptions): Promise<Omit<DicomSegResult, 'bytes'>> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArg('path', 'expected a non-empty string');
  const r = encodeDicomSeg(mask, options);
  try {
    await writeBytesAtomic(path, r.bytes);
  } catch (e) {
    if (e instanceof LiversegError) throw e;
    throw fileError('ERR_IO', path, `write failed: ${(e as Error).message}`, e);
  }
  return { sopInstanceUid: r.sopInstanceUid, seriesInstanceUid: r.seriesInstanceUid, frames: r.frames };
}
