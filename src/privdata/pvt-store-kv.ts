import { type FileHandle, mkdir, open, readdir, rename, unlink } from "node:fs/promises";
import { join, resolve as resolvePath } from "node:path";
import { crc32 } from "node:zlib";
import { type Logger, silentLogger } from "../logging/index.js";
import { type DirectoryLock, DirectoryLockError, errorMessage, lockDirectory } from "../util/index.js";
import { PrivdataStoreError } from "./pvt-store-errors.js";

/**
 * The storage engine under both private-data stores: string keys, byte values, atomic batches. Two
 * implementations: in memory (the simulator, tests) and an append-only log file (a peer), so the stores'
 * semantics are written once and hold identically in both.
 *
 * Log file format (`kvlog_NNNNNN`, integers little-endian), one record per batch:
 *   magic u32 "PVKL" | length u32 | seq u64 | crc32 u32 (over length, seq and payload) | payload
 * payload: count u32, then `count` operations: op u8 (1 put, 2 delete) | key length u32 | key (UTF-8)
 *   | for a put: value length u32 | value
 * Sequence numbers increase by one from a file's first record. The whole state is the replay of the one live
 * file; compaction writes the live entries to `kvlog_<N+1>.tmp`, fsyncs it, renames it to `kvlog_<N+1>` and only
 * then deletes `kvlog_N`, so a crash at any point leaves one complete newest file (older ones and `.tmp` files
 * are removed at open).
 */

/** One operation of a batch: a put (value given) or a delete (value undefined). Later operations on a key win. */
export interface KvOp {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

/** What opening a log found and repaired. */
export interface KvRecoveryReport {
  /** Batches replayed. */
  records: number;
  /** Bytes of torn tail cut off the log (0 if none). */
  truncatedBytes: number;
  truncatedReason?: string;
}

export interface KvEngine {
  readonly recovery: KvRecoveryReport;
  /** Every live key (in no particular order). */
  keys(): IterableIterator<string>;
  has(key: string): boolean;
  /** The value of `key`, or undefined. `CORRUPT_RECORD` if its bytes on disk no longer match their checksum. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Applies the operations atomically; once it resolves they are durable (fdatasync) and visible. */
  write(ops: readonly KvOp[]): Promise<void>;
  /** Rewrites the log with only the live entries (purged values leave the disk). No-op in memory. */
  compact(): Promise<void>;
  close(): Promise<void>;
}

const OP_PUT = 1;
const OP_DELETE = 2;

function checkOpen(closed: boolean, what: string): void {
  if (closed) throw new PrivdataStoreError("STORE_CLOSED", `${what} is closed; open it again`);
}

/** An engine that keeps everything in memory: nothing survives the process. */
export function createMemoryKv(name = "in-memory store"): KvEngine {
  const map = new Map<string, Uint8Array>();
  let closed = false;
  return {
    recovery: { records: 0, truncatedBytes: 0 },
    keys: () => map.keys(),
    has: (key) => map.has(key),
    get: async (key) => {
      checkOpen(closed, name);
      const v = map.get(key);
      return v === undefined ? undefined : v.slice();
    },
    write: async (ops) => {
      checkOpen(closed, name);
      for (const op of ops) {
        if (op.value === undefined) map.delete(op.key);
        else map.set(op.key, op.value.slice());
      }
    },
    compact: async () => undefined,
    close: async () => {
      closed = true;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The log file engine.

export const KV_RECORD_MAGIC = 0x4c4b5650; // "PVKL" as LE bytes 50 56 4b 4c
export const KV_RECORD_HEADER_BYTES = 20;
/** Upper bound on one batch; a larger length in a header is damage, not data. */
export const KV_MAX_RECORD_BYTES = 1024 * 1024 * 1024;
/** Values up to this size are also kept in memory (indexes, markers); larger ones are read from the file. */
const INLINE_VALUE_BYTES = 1024;
/** A compacted file is written in records of at most this payload size. */
const COMPACT_RECORD_BYTES = 4 * 1024 * 1024;
/** Default: compact when the dead bytes reach this much and at least the live bytes. */
export const DEFAULT_COMPACT_MIN_BYTES = 4 * 1024 * 1024;

const LOG_RE = /^kvlog_(\d{6,})$/;
const TMP_RE = /^kvlog_\d{6,}\.tmp$/;

function logName(n: number): string {
  return `kvlog_${String(n).padStart(6, "0")}`;
}

export interface LogKvOptions {
  /** Compact when dead bytes reach max(this, live bytes). Default 4 MiB. */
  compactMinBytes?: number;
  /** Names the store in errors and logs. */
  name?: string;
}

interface Located {
  /** Offset of the value bytes in the live file. */
  offset: number;
  length: number;
  crc: number;
  inline: Uint8Array | undefined;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function errCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const c = (err as { code: unknown }).code;
    return typeof c === "string" ? c : undefined;
  }
  return undefined;
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function readFully(h: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await h.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

async function writeFully(h: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await h.write(data, done, data.byteLength - done, position + done);
    done += bytesWritten;
  }
}

/** A record (header and payload) holding `ops` with sequence number `seq`. */
export function encodeKvRecord(seq: bigint, ops: readonly KvOp[]): Uint8Array {
  const keys = ops.map((op) => Buffer.from(op.key, "utf8"));
  let size = 4;
  ops.forEach((op, i) => {
    size += 1 + 4 + keys[i]!.byteLength + (op.value === undefined ? 0 : 4 + op.value.byteLength);
  });
  const rec = new Uint8Array(KV_RECORD_HEADER_BYTES + size);
  const v = view(rec);
  let p = KV_RECORD_HEADER_BYTES;
  v.setUint32(p, ops.length, true);
  p += 4;
  ops.forEach((op, i) => {
    const k = keys[i]!;
    v.setUint8(p, op.value === undefined ? OP_DELETE : OP_PUT);
    v.setUint32(p + 1, k.byteLength, true);
    rec.set(k, p + 5);
    p += 5 + k.byteLength;
    if (op.value !== undefined) {
      v.setUint32(p, op.value.byteLength, true);
      rec.set(op.value, p + 4);
      p += 4 + op.value.byteLength;
    }
  });
  v.setUint32(0, KV_RECORD_MAGIC, true);
  v.setUint32(4, size, true);
  v.setBigUint64(8, seq, true);
  v.setUint32(16, crc32(rec.subarray(KV_RECORD_HEADER_BYTES), crc32(rec.subarray(4, 16))), true);
  return rec;
}

interface DecodedOp {
  key: string;
  /** Offset of the value within the payload, or -1 for a delete. */
  valueOffset: number;
  valueLength: number;
}

/** The operations of a record's payload, or why it is malformed. */
function decodePayload(payload: Uint8Array): DecodedOp[] | string {
  if (payload.byteLength < 4) return "payload shorter than its operation count";
  const v = view(payload);
  const count = v.getUint32(0, true);
  const ops: DecodedOp[] = [];
  let p = 4;
  for (let i = 0; i < count; i++) {
    if (p + 5 > payload.byteLength) return `operation ${i} overruns the payload`;
    const op = v.getUint8(p);
    const klen = v.getUint32(p + 1, true);
    p += 5;
    if (p + klen > payload.byteLength) return `key of operation ${i} overruns the payload`;
    const key = Buffer.from(payload.buffer, payload.byteOffset + p, klen).toString("utf8");
    p += klen;
    if (op === OP_DELETE) {
      ops.push({ key, valueOffset: -1, valueLength: 0 });
    } else if (op === OP_PUT) {
      if (p + 4 > payload.byteLength) return `value length of operation ${i} overruns the payload`;
      const vlen = v.getUint32(p, true);
      p += 4;
      if (p + vlen > payload.byteLength) return `value of operation ${i} overruns the payload`;
      ops.push({ key, valueOffset: p, valueLength: vlen });
      p += vlen;
    } else {
      return `operation ${i} has unknown type ${op}`;
    }
  }
  if (p !== payload.byteLength) return `${payload.byteLength - p} bytes after the last operation`;
  return ops;
}

type RecordCheck = { ok: true; seq: bigint; payload: Uint8Array; size: number } | { ok: false; reason: string; partial: boolean; size?: number };

/** Checks the record at `p` of `buf`: framing, length and CRC. `partial` means the file ends inside it (a torn write). */
function checkKvRecord(buf: Uint8Array, p: number): RecordCheck {
  const remaining = buf.byteLength - p;
  if (remaining < KV_RECORD_HEADER_BYTES) return { ok: false, reason: `partial record header (${remaining} of ${KV_RECORD_HEADER_BYTES} bytes)`, partial: true };
  const v = view(buf);
  const magic = v.getUint32(p, true);
  if (magic !== KV_RECORD_MAGIC) return { ok: false, reason: `no record magic (found 0x${magic.toString(16)})`, partial: false };
  const length = v.getUint32(p + 4, true);
  if (length > KV_MAX_RECORD_BYTES) return { ok: false, reason: `record length ${length} exceeds the maximum`, partial: false };
  if (remaining - KV_RECORD_HEADER_BYTES < length) {
    return { ok: false, reason: `partial record (${remaining - KV_RECORD_HEADER_BYTES} of ${length} payload bytes present)`, partial: true };
  }
  const payload = buf.subarray(p + KV_RECORD_HEADER_BYTES, p + KV_RECORD_HEADER_BYTES + length);
  if (crc32(payload, crc32(buf.subarray(p + 4, p + 16))) !== v.getUint32(p + 16, true)) {
    return { ok: false, reason: "record checksum mismatch", partial: false, size: KV_RECORD_HEADER_BYTES + length };
  }
  return { ok: true, seq: v.getBigUint64(p + 8, true), payload, size: KV_RECORD_HEADER_BYTES + length };
}

/** True if a valid record starts anywhere in `buf` at or after `from`: damage followed by good data is not a torn tail. */
function validRecordAfter(buf: Uint8Array, from: number): boolean {
  const magic = Buffer.from([0x50, 0x56, 0x4b, 0x4c]);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let p = b.indexOf(magic, from); p >= 0; p = b.indexOf(magic, p + 1)) {
    const r = checkKvRecord(buf, p);
    if (r.ok && typeof decodePayload(r.payload) !== "string") return true;
  }
  return false;
}

interface FileRef {
  handle: FileHandle;
  refs: number;
  retired: boolean;
}

/**
 * Opens (creating if needed) the log engine in `dir`, holding `dir`'s lock until close. A torn tail (a record
 * the file ends inside, or damage with nothing valid after it) is cut off; damage followed by valid records
 * is `CORRUPT_STORE`.
 */
export async function openLogKv(dir: string, options: LogKvOptions = {}, logger: Logger = silentLogger): Promise<KvEngine> {
  const abs = resolvePath(dir);
  const name = options.name ?? `store ${abs}`;
  await mkdir(abs, { recursive: true });
  let lock: DirectoryLock;
  try {
    lock = await lockDirectory(abs);
  } catch (err) {
    if (err instanceof DirectoryLockError && err.code === "LOCKED") throw new PrivdataStoreError("LOCKED", `${name}: ${err.message}`, { cause: err });
    throw err;
  }
  try {
    return await LogKv.open(abs, name, options.compactMinBytes ?? DEFAULT_COMPACT_MIN_BYTES, logger, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

class LogKv implements KvEngine {
  private closed = false;
  private closing: Promise<void> | undefined;
  private failure: PrivdataStoreError | undefined;
  private queue: Promise<void> = Promise.resolve();
  private liveBytes = 0;

  private constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly compactMinBytes: number,
    private readonly logger: Logger,
    private readonly lock: DirectoryLock,
    private fileNumber: number,
    private file: FileRef,
    private size: number,
    private nextSeq: bigint,
    private readonly entries: Map<string, Located>,
    readonly recovery: KvRecoveryReport,
  ) {
    for (const [k, e] of entries) this.liveBytes += entryBytes(k, e.length);
  }

  static async open(dir: string, name: string, compactMinBytes: number, logger: Logger, lock: DirectoryLock): Promise<LogKv> {
    const names = await readdir(dir);
    for (const n of names) if (TMP_RE.test(n)) await unlink(join(dir, n)); // an unfinished compaction
    const logs = names
      .map((n) => LOG_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    let fileNumber = logs.length > 0 ? logs[logs.length - 1]! : 0;
    // Older logs exist only after a crash between a compaction's rename and its unlink: the newest is complete.
    for (const n of logs.slice(0, -1)) await unlink(join(dir, logName(n)));
    if (logs.length === 0) {
      const h = await open(join(dir, logName(0)), "wx");
      await h.close();
      fileNumber = 0;
    }
    if (logs.length !== 1) await fsyncDir(dir);

    const handle = await open(join(dir, logName(fileNumber)), "r+");
    try {
      const fileSize = (await handle.stat()).size;
      const buf = await readFully(handle, 0, fileSize);
      const entries = new Map<string, Located>();
      let p = 0;
      let records = 0;
      let seq: bigint | undefined;
      let truncatedReason: string | undefined;
      while (p < buf.byteLength) {
        const r = checkKvRecord(buf, p);
        let bad: string | undefined;
        let ops: DecodedOp[] | string = [];
        if (!r.ok) bad = r.reason;
        else {
          ops = decodePayload(r.payload);
          if (typeof ops === "string") bad = `malformed batch: ${ops}`;
          else if (seq !== undefined && r.seq !== seq + 1n) bad = `record sequence ${r.seq}, expected ${seq + 1n}`;
        }
        if (bad !== undefined) {
          // A crash leaves at most one bad record, at the very end: anything valid after it means damage.
          const partial = !r.ok && r.partial;
          const skip = r.ok ? r.size : (r.size ?? 1);
          if (!partial && validRecordAfter(buf, p + skip)) {
            throw new PrivdataStoreError("CORRUPT_STORE", `${name}: ${logName(fileNumber)} is damaged at offset ${p} (${bad}) and valid records follow; this is not a torn write, restore the store from a backup`);
          }
          truncatedReason = `${bad} at offset ${p}`;
          break;
        }
        if (!r.ok || typeof ops === "string") break; // unreachable: bad is set for these
        const payloadOffset = p + KV_RECORD_HEADER_BYTES;
        for (const op of ops) {
          if (op.valueOffset < 0) entries.delete(op.key);
          else {
            const value = r.payload.subarray(op.valueOffset, op.valueOffset + op.valueLength);
            entries.set(op.key, {
              offset: payloadOffset + op.valueOffset,
              length: op.valueLength,
              crc: crc32(value),
              inline: op.valueLength <= INLINE_VALUE_BYTES ? Uint8Array.from(value) : undefined,
            });
          }
        }
        seq = r.seq;
        records++;
        p += r.size;
      }
      const truncatedBytes = buf.byteLength - p;
      if (truncatedBytes > 0) {
        await handle.truncate(p);
        await handle.datasync();
        logger.warn("cut a torn tail off a private data store log", { store: name, bytes: truncatedBytes, reason: truncatedReason });
      }
      return new LogKv(dir, name, compactMinBytes, logger, lock, fileNumber, { handle, refs: 0, retired: false }, p, (seq ?? -1n) + 1n, entries, {
        records,
        truncatedBytes,
        ...(truncatedReason !== undefined ? { truncatedReason } : {}),
      });
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkOpen(this.closed, this.name);
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.inline !== undefined) return Uint8Array.from(e.inline);
    const ref = this.file;
    ref.refs++;
    try {
      const bytes = await readFully(ref.handle, e.offset, e.length);
      if (bytes.byteLength !== e.length || crc32(bytes) !== e.crc) {
        throw new PrivdataStoreError("CORRUPT_RECORD", `${this.name}: the value of ${key} at offset ${e.offset} of ${logName(this.fileNumber)} fails its checksum; restore the store from a backup`);
      }
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } finally {
      ref.refs--;
      if (ref.retired && ref.refs === 0) await ref.handle.close().catch(() => undefined);
    }
  }

  write(ops: readonly KvOp[]): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new PrivdataStoreError("STORE_CLOSED", `${this.name} is closed; open it again`));
    const run = this.queue.then(() => this.doWrite(ops));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async doWrite(ops: readonly KvOp[]): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (ops.length === 0) return;
    const rec = encodeKvRecord(this.nextSeq, ops);
    if (rec.byteLength - KV_RECORD_HEADER_BYTES > KV_MAX_RECORD_BYTES) {
      throw new PrivdataStoreError("INVALID_ARGUMENT", `${this.name}: a batch of ${rec.byteLength} bytes exceeds the maximum of ${KV_MAX_RECORD_BYTES}`);
    }
    const at = this.size;
    try {
      await writeFully(this.file.handle, rec, at);
      await this.file.handle.datasync();
    } catch (err) {
      this.failure = new PrivdataStoreError("STORE_FAILED", `${this.name}: a write failed (${errorMessage(err)}); writes are refused until the store is reopened`, { cause: err });
      this.logger.error("private data store write failed", { store: this.name, error: errorMessage(err) });
      throw this.failure;
    }
    this.size = at + rec.byteLength;
    this.nextSeq++;
    // Apply: value offsets follow the encoding order of encodeKvRecord.
    let p = at + KV_RECORD_HEADER_BYTES + 4;
    for (const op of ops) {
      p += 5 + Buffer.byteLength(op.key, "utf8");
      const old = this.entries.get(op.key);
      if (old !== undefined) this.liveBytes -= entryBytes(op.key, old.length);
      if (op.value === undefined) {
        this.entries.delete(op.key);
      } else {
        p += 4;
        this.entries.set(op.key, { offset: p, length: op.value.byteLength, crc: crc32(op.value), inline: op.value.byteLength <= INLINE_VALUE_BYTES ? Uint8Array.from(op.value) : undefined });
        this.liveBytes += entryBytes(op.key, op.value.byteLength);
        p += op.value.byteLength;
      }
    }
    const dead = this.size - this.liveBytes;
    if (dead >= this.compactMinBytes && dead >= this.liveBytes) {
      try {
        await this.doCompact();
      } catch (err) {
        // The old log is still whole and in use: compaction is retried after a later write.
        this.logger.warn("private data store compaction failed", { store: this.name, error: errorMessage(err) });
      }
    }
  }

  compact(): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new PrivdataStoreError("STORE_CLOSED", `${this.name} is closed; open it again`));
    const run = this.queue.then(() => {
      if (this.failure !== undefined) throw this.failure;
      return this.doCompact();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async doCompact(): Promise<void> {
    const next = this.fileNumber + 1;
    const tmp = join(this.dir, `${logName(next)}.tmp`);
    const h = await open(tmp, "w+");
    const moved = new Map<string, Located>();
    let size = 0;
    let seq = 0n;
    try {
      let batch: KvOp[] = [];
      let batchBytes = 0;
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        const rec = encodeKvRecord(seq, batch);
        await writeFully(h, rec, size);
        let p = size + KV_RECORD_HEADER_BYTES + 4;
        for (const op of batch) {
          p += 5 + Buffer.byteLength(op.key, "utf8") + 4;
          const old = this.entries.get(op.key)!;
          moved.set(op.key, { ...old, offset: p });
          p += old.length;
        }
        size += rec.byteLength;
        seq++;
        batch = [];
        batchBytes = 0;
      };
      for (const key of [...this.entries.keys()]) {
        const value = await this.get(key);
        if (value === undefined) continue;
        batch.push({ key, value });
        batchBytes += entryBytes(key, value.byteLength);
        if (batchBytes >= COMPACT_RECORD_BYTES) await flush();
      }
      await flush();
      await h.sync();
    } catch (err) {
      await h.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await h.close();
    const path = join(this.dir, logName(next));
    await rename(tmp, path);
    await fsyncDir(this.dir);
    const handle = await open(path, "r+");
    const old = this.file;
    const oldNumber = this.fileNumber;
    this.file = { handle, refs: 0, retired: false };
    this.fileNumber = next;
    this.size = size;
    this.nextSeq = seq;
    for (const [k, e] of moved) this.entries.set(k, e);
    old.retired = true;
    if (old.refs === 0) await old.handle.close().catch(() => undefined);
    await unlink(join(this.dir, logName(oldNumber))).catch((err: unknown) => {
      if (errCode(err) !== "ENOENT") throw err;
    });
    await fsyncDir(this.dir);
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    await this.queue;
    this.closed = true;
    this.file.retired = true;
    if (this.file.refs === 0) await this.file.handle.close().catch(() => undefined);
    await this.lock.release();
  }
}

/** What an entry takes in a compacted file (its operation's framing, key and value). */
function entryBytes(key: string, valueLength: number): number {
  return 9 + Buffer.byteLength(key, "utf8") + valueLength;
}
