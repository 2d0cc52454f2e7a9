/** DICOM: series in (folders, zips, files, Buffers), DICOM SEG out and back in. */
export { loadDicomSeries, listDicomSeries } from './series';
export type { LoadDicomSeriesOptions, DicomSeriesInfo, DicomInventory } from './series';
export { saveDicomSeg, encodeDicomSeg, checkSegReference, LIVER_CODE, ANATOMICAL_STRUCTURE_CODE, SEG_SOP_CLASS_UID } from './seg-write';
export type { DicomSegOptions, DicomSegResult, Code } from './seg-write';
export { loadDicomSeg } from './seg-read';
export type { LoadDicomSegOptions, DicomSegInfo } from './seg-read';
export { isDicomSource } from './sources';
export type { DicomSource, SkippedFile } from './sources';
export type { DicomLimits } from './limits';
export { TRANSFER_SYNTAXES } from './codecs';
