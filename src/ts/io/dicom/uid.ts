/** DICOM UIDs for the objects liverseg creates: UUID-derived UIDs under the 2.25 root (PS3.5 B.2), which need no registered prefix. */
import { randomUUID } from 'node:crypto';

/** A fresh UID, `2.25.` followed by a random UUID as a decimal integer (at most 44 characters). */
export function newUid(): string {
  return `2.25.${BigInt('0x' + randomUUID().replace(/-/g, '')).toString()}`;
}

/** liverseg's Implementation Class UID (in every file meta header it writes); derived once from a fixed UUID. */
export const IMPLEMENTATION_CLASS_UID = `2.25.${BigInt('0x6c697665727365679a1e4d1c8b2f0d11').toString()}`;

/** True for a syntactically valid UID: 1 to 64 characters, dot-separated numbers without leading zeros. */
export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(uid);
}
