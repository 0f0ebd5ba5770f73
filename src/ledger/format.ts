import { crc32 } from "node:zlib";

/**
 * On-disk formats of the block store. All integers little-endian.
 *
 * Segment record (`blockfile_NNNNNN`):
 *   magic u32 "FBLK" | length u32 | block number u64 | crc32 u32 | payload (length bytes)
 * The CRC-32 covers length, number and payload.
 *
 * Index entry (`index`, entry n at n * INDEX_ENTRY_BYTES):
 *   file u32 | offset u64 | length u32 | crc32 u32 (over block number u64 and the 16 bytes before it)
 *
 * Checkpoint (`checkpoint`, replaced atomically by rename):
 *   magic u32 "FBCK" | version u32 | height u64 | file u32 | offset u64 | crc32 u32 (over the 28 bytes before it)
 */

export const RECORD_MAGIC = 0x4b4c4246; // "FBLK" as LE bytes 46 42 4c 4b
export const RECORD_HEADER_BYTES = 20;
export const INDEX_ENTRY_BYTES = 20;
export const CHECKPOINT_MAGIC = 0x4b434246; // "FBCK"
export const CHECKPOINT_VERSION = 1;
export const CHECKPOINT_BYTES = 32;

export const SEGMENT_PREFIX = "blockfile_";
export const INDEX_FILE = "index";
export const CHECKPOINT_FILE = "checkpoint";
export const CHECKPOINT_TMP_FILE = "checkpoint.tmp";

const SEGMENT_RE = /^blockfile_(\d{6,})$/;

/** `blockfile_000042` for 42 (Fabric's naming). */
export function segmentName(file: number): string {
  return SEGMENT_PREFIX + String(file).padStart(6, "0");
}

/** The segment number of a file name, or undefined if it is not a segment. */
export function parseSegmentName(name: string): number | undefined {
  const m = SEGMENT_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The 20-byte header of a record holding `payload` for block `number`. */
export function encodeRecordHeader(number: bigint, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(RECORD_HEADER_BYTES);
  const v = view(h);
  v.setUint32(0, RECORD_MAGIC, true);
  v.setUint32(4, payload.byteLength, true);
  v.setBigUint64(8, number, true);
  const crc = crc32(payload, crc32(h.subarray(4, 16)));
  v.setUint32(16, crc, true);
  return h;
}

export interface RecordHeader {
  magic: number;
  length: number;
  number: bigint;
  crc: number;
}

export function decodeRecordHeader(h: Uint8Array): RecordHeader {
  const v = view(h);
  return { magic: v.getUint32(0, true), length: v.getUint32(4, true), number: v.getBigUint64(8, true), crc: v.getUint32(16, true) };
}

/** True if the CRC in `header` matches its length, number and `payload`. */
export function recordCrcOk(header: Uint8Array, payload: Uint8Array): boolean {
  return crc32(payload, crc32(header.subarray(4, 16))) === view(header).getUint32(16, true);
}

/** Where a block's record lives. `length` is the payload length (the record is RECORD_HEADER_BYTES longer). */
export interface IndexEntry {
  file: number;
  offset: number;
  length: number;
}

export function encodeIndexEntry(number: bigint, e: IndexEntry, out: Uint8Array = new Uint8Array(INDEX_ENTRY_BYTES)): Uint8Array {
  const v = view(out);
  v.setUint32(0, e.file, true);
  v.setBigUint64(4, BigInt(e.offset), true);
  v.setUint32(12, e.length, true);
  v.setUint32(16, indexCrc(number, out), true);
  return out;
}

function indexCrc(number: bigint, entry: Uint8Array): number {
  const n = new Uint8Array(8);
  view(n).setBigUint64(0, number, true);
  return crc32(entry.subarray(0, 16), crc32(n));
}

/** The entry for block `number`, or undefined if its CRC does not match (torn or garbage). */
export function decodeIndexEntry(number: bigint, b: Uint8Array): IndexEntry | undefined {
  if (b.byteLength < INDEX_ENTRY_BYTES) return undefined;
  const v = view(b);
  if (indexCrc(number, b) !== v.getUint32(16, true)) return undefined;
  return { file: v.getUint32(0, true), offset: Number(v.getBigUint64(4, true)), length: v.getUint32(12, true) };
}

/** The durable promise of a checkpoint: blocks [0, height) end at `offset` in segment `file`, and their index entries are on disk. */
export interface Checkpoint {
  height: bigint;
  file: number;
  offset: number;
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const b = new Uint8Array(CHECKPOINT_BYTES);
  const v = view(b);
  v.setUint32(0, CHECKPOINT_MAGIC, true);
  v.setUint32(4, CHECKPOINT_VERSION, true);
  v.setBigUint64(8, c.height, true);
  v.setUint32(16, c.file, true);
  v.setBigUint64(20, BigInt(c.offset), true);
  v.setUint32(28, crc32(b.subarray(0, 28)), true);
  return b;
}

/** The checkpoint, or undefined if the bytes are not a valid one (wrong size, magic, version or CRC). */
export function decodeCheckpoint(b: Uint8Array): Checkpoint | undefined {
  if (b.byteLength !== CHECKPOINT_BYTES) return undefined;
  const v = view(b);
  if (v.getUint32(0, true) !== CHECKPOINT_MAGIC || v.getUint32(4, true) !== CHECKPOINT_VERSION) return undefined;
  if (crc32(b.subarray(0, 28)) !== v.getUint32(28, true)) return undefined;
  return { height: v.getBigUint64(8, true), file: v.getUint32(16, true), offset: Number(v.getBigUint64(20, true)) };
}
