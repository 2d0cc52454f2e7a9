/**
 * The part of dcmjs (https://github.com/dcmjs-org/dcmjs) that liverseg uses. dcmjs ships no type
 * declarations; these describe its documented data API (`dcmjs.data`) as of 0.51. Nothing here is
 * part of liverseg's public types.
 */
declare module 'dcmjs' {
  /** One element of a dataset in dcmjs's "denaturalized" form, keyed by its tag as 8 hex digits. */
  export interface DcmjsElement {
    vr: string;
    Value?: unknown[];
  }
  export type DcmjsDict = Record<string, DcmjsElement>;

  export interface ReadFileOptions {
    ignoreErrors?: boolean;
    /** Stop reading at this tag (8 hex digits, upper case), e.g. '7FE00010' to skip the pixels. */
    untilTag?: string | null;
    includeUntilTagValue?: boolean;
    noCopy?: boolean;
    forceStoreRaw?: boolean;
  }

  export class DicomDict {
    constructor(meta: DcmjsDict);
    meta: DcmjsDict;
    dict: DcmjsDict;
    write(options?: { allowInvalidVRLength?: boolean; fragmentMultiframe?: boolean }): ArrayBuffer;
  }

  export const data: {
    DicomMessage: {
      readFile(buffer: ArrayBuffer, options?: ReadFileOptions): DicomDict;
    };
    DicomDict: typeof DicomDict;
    DicomMetaDictionary: {
      naturalizeDataset(dict: DcmjsDict): Record<string, unknown>;
      denaturalizeDataset(dataset: Record<string, unknown>): DcmjsDict;
      dictionary: Record<string, { tag: string; vr: string; name: string; vm: string }>;
    };
  };

  interface Logger {
    setLevel(level: string): void;
    getLevel(): number;
  }
  export const log: Logger & { getLogger(name: string): Logger };
}
