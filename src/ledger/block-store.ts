import { type FileHandle, mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join, resolve as resolvePath } from "node:path";
import { blockDataHash, blockHeaderHash } from "../crypto/index.js";
import { type Logger, silentLogger } from "../logging/index.js";
import { Block, } from "../protos/gen/common/common.pb.js";
import { bytesEqual, type DirectoryLock, DirectoryLockError, errorMessage, lockDirectory, toHex } from "../util/index.js";
import { LedgerError } from "./errors.js";
import {
  CHECKPOINT_FILE,
  CHECKPOINT_TMP_FILE,
  type Checkpoint,
  decodeCheckpoint,
  decodeIndexEntry,
  decodeRecordHeader,
  encodeCheckpoint,
  encodeIndexEntry,
  encodeRecordHeader,
  INDEX_ENTRY_BYTES,
  INDEX_FILE,
  type IndexEntry,
  parseSegmentName,
  RECORD_HEADER_BYTES,
  RECORD_MAGIC,
  recordCrcOk,
  segmentName,
} from "./format.js";
import {
  type BlockStore,
  type BlockStoreComponents,
  type BlockStoreOptions,
  DEFAULT_CHECKPOINT_INTERVAL_BLOCKS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_OPEN_FILES,
  MAX_BLOCK_BYTES,
  type RecoveryReport,
} from "./interface.js";

/** A batch of group commit writes at most this many record bytes before its fsync. */
const MAX_BATCH_BYTES = 16 * 1024 * 1024;

const EMPTY: Uint8Array = new Uint8Array(0);

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

// ---------------------------------------------------------------------------------------------
// Lock: one opener per directory, released by the system when its holder dies (util's lockDirectory).

async function acquireLock(dir: string): Promise<DirectoryLock> {
  try {
    return await lockDirectory(dir);
  } catch (err) {
    if (err instanceof DirectoryLockError && err.code === "LOCKED") throw new LedgerError("LOCKED", `block store ${err.message}`, { cause: err });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Read handles: an LRU of read-only segment handles, closed only when no read is using them.

interface CachedHandle {
  handle: Promise<FileHandle>;
  refs: number;
}

class HandleCache {
  private readonly entries = new Map<number, CachedHandle>();

  constructor(
    private readonly dir: string,
    private readonly max: number,
  ) {}

  async withHandle<T>(file: number, fn: (h: FileHandle) => Promise<T>): Promise<T> {
    let e = this.entries.get(file);
    if (e === undefined) {
      e = { handle: open(join(this.dir, segmentName(file)), "r"), refs: 0 };
      void e.handle.catch(() => this.entries.delete(file));
    } else {
      this.entries.delete(file); // re-insert: most recently used last
    }
    this.entries.set(file, e);
    e.refs++;
    try {
      return await fn(await e.handle);
    } finally {
      e.refs--;
      this.evict();
    }
  }

  private evict(): void {
    if (this.entries.size <= this.max) return;
    for (const [file, e] of this.entries) {
      if (this.entries.size <= this.max) break;
      if (e.refs > 0) continue;
      this.entries.delete(file);
      void e.handle.then((h) => h.close()).catch(() => undefined);
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.handle.then((h) => h.close()).catch(() => undefined)));
  }
}

// ---------------------------------------------------------------------------------------------
// Record checks shared by recovery and reads.

interface GoodRecord {
  /** Record length including its header. */
  size: number;
  hash: Uint8Array;
}

/**
 * Checks the record at `p` of `buf` for block `expected`: framing, CRC, number, decodable block, and
 * (from block 1) the hash chain to `prevHash`. Returns the record or why it is unusable.
 */
function checkRecord(buf: Uint8Array, p: number, expected: bigint, prevHash: Uint8Array): GoodRecord | string {
  const remaining = buf.byteLength - p;
  if (remaining < RECORD_HEADER_BYTES) return `partial record header (${remaining} of ${RECORD_HEADER_BYTES} bytes)`;
  const headerBytes = buf.subarray(p, p + RECORD_HEADER_BYTES);
  const h = decodeRecordHeader(headerBytes);
  if (h.magic !== RECORD_MAGIC) return `no record magic (found 0x${h.magic.toString(16)})`;
  if (h.length > MAX_BLOCK_BYTES) return `record length ${h.length} exceeds the maximum ${MAX_BLOCK_BYTES}`;
  if (remaining - RECORD_HEADER_BYTES < h.length) {
    return `partial record (${remaining - RECORD_HEADER_BYTES} of ${h.length} payload bytes present)`;
  }
  const payload = buf.subarray(p + RECORD_HEADER_BYTES, p + RECORD_HEADER_BYTES + h.length);
  if (!recordCrcOk(headerBytes, payload)) return "record checksum mismatch";
  if (h.number !== expected) return `record holds block ${h.number}, expected block ${expected}`;
  let block: Block;
  try {
    block = Block.decode(payload);
  } catch (err) {
    return `record payload is not a common.Block: ${errorMessage(err)}`;
  }
  if (block.header === undefined || block.header.number !== expected) return `block header missing or not number ${expected}`;
  if (expected > 0n && !bytesEqual(block.header.previousHash, prevHash)) return `block ${expected} previous_hash does not chain to block ${expected - 1n}`;
  return { size: RECORD_HEADER_BYTES + h.length, hash: blockHeaderHash(block.header) };
}

// ---------------------------------------------------------------------------------------------

interface Pending {
  number: number;
  header: Uint8Array;
  bytes: Uint8Array;
  hash: Uint8Array;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Waiter {
  height: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface ActiveSegment {
  file: number;
  handle: FileHandle;
  size: number;
}

interface OpenedState {
  entries: IndexEntry[];
  lastHash: Uint8Array;
  active: ActiveSegment;
  indexHandle: FileHandle;
  recovery: RecoveryReport;
  /** Blocks committed since the last checkpoint. */
  sinceCheckpoint: number;
}

/**
 * Opens (creating if needed) the block store in `dir`, recovering from a crash: blocks up to the last
 * checkpoint are trusted, the segments after it are scanned, a torn tail is truncated, and damaged
 * committed data makes the open fail with `CORRUPT_LEDGER`. Fabric: `blkstorage.newBlockfileMgr`.
 */
export async function openBlockStore(dir: string, options: BlockStoreOptions = {}, components: BlockStoreComponents = {}): Promise<BlockStore> {
  const abs = resolvePath(dir);
  const opts: Required<BlockStoreOptions> = {
    maxFileBytes: options.maxFileBytes || DEFAULT_MAX_FILE_BYTES,
    checkpointIntervalBlocks: options.checkpointIntervalBlocks || DEFAULT_CHECKPOINT_INTERVAL_BLOCKS,
    verifyDataHash: options.verifyDataHash ?? true,
    maxOpenFiles: options.maxOpenFiles || DEFAULT_MAX_OPEN_FILES,
  };
  const logger = (components.logger ?? silentLogger).child("ledger.blkstorage");
  await mkdir(abs, { recursive: true });
  const lock = await acquireLock(abs);
  try {
    const state = await recover(abs, opts, logger);
    return new FileBlockStore(abs, opts, logger, state, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function recover(dir: string, opts: Required<BlockStoreOptions>, logger: Logger): Promise<OpenedState> {
  const handles: FileHandle[] = [];
  try {
    await unlink(join(dir, CHECKPOINT_TMP_FILE)).catch(() => undefined);
    const segs = (await readdir(dir))
      .map(parseSegmentName)
      .filter((n): n is number => n !== undefined)
      .sort((a, b) => a - b);
    for (let i = 0; i < segs.length; i++) {
      if (segs[i] !== i) {
        throw new LedgerError("CORRUPT_LEDGER", `block store ${dir}: segment ${segmentName(i)} is missing (found ${segs.map(segmentName).join(", ")}); restore it from a backup`);
      }
    }
    if (segs.length === 0) {
      const h = await open(join(dir, segmentName(0)), "wx");
      await h.close();
      await fsyncDir(dir);
      segs.push(0);
    }
    const lastFile = segs.length - 1;

    // The checkpoint: what was durable (data and index entries) when it was written.
    let cp: Checkpoint | undefined;
    let rebuildReason: string | undefined;
    const cpBytes = await readFile(join(dir, CHECKPOINT_FILE)).catch((err: unknown) => {
      if (errCode(err) === "ENOENT") return undefined;
      throw err;
    });
    if (cpBytes !== undefined) {
      cp = decodeCheckpoint(cpBytes);
      if (cp === undefined) rebuildReason = "checkpoint file unreadable";
    }

    let indexHandle: FileHandle;
    try {
      indexHandle = await open(join(dir, INDEX_FILE), "r+");
    } catch (err) {
      if (errCode(err) !== "ENOENT") throw err;
      indexHandle = await open(join(dir, INDEX_FILE), "w+");
      await fsyncDir(dir);
    }
    handles.push(indexHandle);
    const indexSize = (await indexHandle.stat()).size;

    const entries: IndexEntry[] = [];
    if (cp !== undefined) {
      if (cp.file > lastFile) {
        throw new LedgerError("CORRUPT_LEDGER", `block store ${dir}: the checkpoint vouches for ${cp.height} blocks ending in ${segmentName(cp.file)}, which does not exist; committed blocks are missing`);
      }
      const h = await open(join(dir, segmentName(cp.file)), "r");
      const size = (await h.stat()).size;
      await h.close();
      if (size < cp.offset) {
        throw new LedgerError("CORRUPT_LEDGER", `block store ${dir}: the checkpoint vouches for ${cp.height} blocks ending at offset ${cp.offset} of ${segmentName(cp.file)}, but the file has ${size} bytes; committed blocks are missing`);
      }
      const need = Number(cp.height) * INDEX_ENTRY_BYTES;
      const raw = indexSize >= need ? await readFully(indexHandle, 0, need) : EMPTY;
      if (raw.byteLength < need) {
        rebuildReason = `index file has ${Math.floor(indexSize / INDEX_ENTRY_BYTES)} entries, the checkpoint ${cp.height}`;
      } else {
        for (let n = 0; n < Number(cp.height); n++) {
          const e = decodeIndexEntry(BigInt(n), raw.subarray(n * INDEX_ENTRY_BYTES, (n + 1) * INDEX_ENTRY_BYTES));
          if (e === undefined || e.file > lastFile) {
            rebuildReason = `index entry ${n} is damaged`;
            break;
          }
          entries.push(e);
        }
      }
      if (rebuildReason !== undefined) entries.length = 0;
    }
    const start: Checkpoint = rebuildReason === undefined && cp !== undefined ? cp : { height: 0n, file: 0, offset: 0 };
    if (rebuildReason !== undefined) logger.warn("rebuilding the block index from the segment files", { dir, reason: rebuildReason });

    // Index entries past the checkpoint that survived: each proves its block had been fsynced
    // (entries are written only after the data's fsync), so damage there is corruption, not a torn tail.
    let claimedHeight = Number(start.height);
    if (indexSize > claimedHeight * INDEX_ENTRY_BYTES) {
      const raw = await readFully(indexHandle, claimedHeight * INDEX_ENTRY_BYTES, indexSize - claimedHeight * INDEX_ENTRY_BYTES);
      for (let p = 0; p + INDEX_ENTRY_BYTES <= raw.byteLength; p += INDEX_ENTRY_BYTES) {
        if (decodeIndexEntry(BigInt(claimedHeight), raw.subarray(p, p + INDEX_ENTRY_BYTES)) === undefined) break;
        claimedHeight++;
      }
    }

    const cache = new HandleCache(dir, 4);
    let prevHash: Uint8Array = EMPTY;
    try {
      if (start.height > 0n) {
        const n = start.height - 1n;
        const e = entries[Number(n)]!;
        const buf = await cache.withHandle(e.file, (h) => readFully(h, e.offset, RECORD_HEADER_BYTES + e.length));
        const prevPrev = n > 0n ? decodePrevHash(buf) : EMPTY;
        const r = checkRecord(buf, 0, n, prevPrev);
        if (typeof r === "string") {
          throw new LedgerError("CORRUPT_LEDGER", `block store ${dir}: committed block ${n} at ${segmentName(e.file)} offset ${e.offset} is damaged: ${r}`);
        }
        prevHash = r.hash;
      }
    } finally {
      await cache.closeAll();
    }

    // Scan everything after the checkpoint.
    let height = start.height;
    const scanned: IndexEntry[] = [];
    let truncatedBytes = 0;
    let truncatedReason: string | undefined;
    let endOffset = 0;
    for (let f = start.file; f <= lastFile; f++) {
      const from = f === start.file ? start.offset : 0;
      const h = await open(join(dir, segmentName(f)), "r");
      let buf: Uint8Array;
      try {
        const size = (await h.stat()).size;
        buf = await readFully(h, from, size - from);
      } finally {
        await h.close();
      }
      let p = 0;
      while (p < buf.byteLength) {
        const r = checkRecord(buf, p, height, prevHash);
        if (typeof r === "string") {
          const where = `${segmentName(f)} offset ${from + p}`;
          if (f < lastFile) {
            throw new LedgerError("CORRUPT_LEDGER", `block store ${dir}: block ${height} at ${where} is damaged (${r}) and is not at the tail: a later segment exists; restore from a backup`);
          }
          if (claimedHeight > Number(height)) {
            throw new LedgerError("CORRUPT_LEDGER", `block store ${dir}: block ${height} at ${where} is damaged (${r}) but the index records it as committed; restore from a backup`);
          }
          truncatedBytes = buf.byteLength - p;
          truncatedReason = `${r} at ${where}`;
          break;
        }
        scanned.push({ file: f, offset: from + p, length: r.size - RECORD_HEADER_BYTES });
        prevHash = r.hash;
        height++;
        p += r.size;
      }
      endOffset = from + p;
    }

    // Repair: index first (entries for scanned blocks, nothing beyond the height), then the data tail.
    const finalHeight = Number(height);
    if (scanned.length > 0) {
      const raw = new Uint8Array(scanned.length * INDEX_ENTRY_BYTES);
      for (let i = 0; i < scanned.length; i++) {
        encodeIndexEntry(start.height + BigInt(i), scanned[i]!, raw.subarray(i * INDEX_ENTRY_BYTES, (i + 1) * INDEX_ENTRY_BYTES));
      }
      await writeFully(indexHandle, raw, Number(start.height) * INDEX_ENTRY_BYTES);
    }
    if (indexSize > finalHeight * INDEX_ENTRY_BYTES) await indexHandle.truncate(finalHeight * INDEX_ENTRY_BYTES);
    if (scanned.length > 0 || indexSize !== finalHeight * INDEX_ENTRY_BYTES) await indexHandle.datasync();

    const activeHandle = await open(join(dir, segmentName(lastFile)), "r+");
    handles.push(activeHandle);
    if (truncatedBytes > 0) {
      await activeHandle.truncate(endOffset);
      await activeHandle.datasync();
      logger.warn("truncated a torn tail of the block store", { dir, bytes: truncatedBytes, reason: truncatedReason, height: finalHeight });
    }
    entries.push(...scanned);
    return {
      entries,
      lastHash: finalHeight > 0 ? prevHash : EMPTY,
      active: { file: lastFile, handle: activeHandle, size: endOffset },
      indexHandle,
      recovery: {
        checkpointHeight: start.height,
        scannedBlocks: scanned.length,
        truncatedBytes,
        ...(truncatedReason !== undefined ? { truncatedReason } : {}),
        rebuiltIndex: rebuildReason !== undefined,
      },
      // Force a checkpoint soon after anything was scanned or repaired.
      sinceCheckpoint: scanned.length > 0 || truncatedBytes > 0 || rebuildReason !== undefined ? opts.checkpointIntervalBlocks : 0,
    };
  } catch (err) {
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
    throw err;
  }
}

/** previous_hash of the block in a record buffer (for checking the record itself against its own claim). */
function decodePrevHash(buf: Uint8Array): Uint8Array {
  try {
    return Block.decode(buf.subarray(RECORD_HEADER_BYTES)).header?.previousHash ?? EMPTY;
  } catch {
    return EMPTY;
  }
}

class FileBlockStore implements BlockStore {
  readonly recovery: RecoveryReport;
  private readonly entries: IndexEntry[];
  private lastHash: Uint8Array;
  private active: ActiveSegment;
  private readonly indexHandle: FileHandle;
  private readonly reads: HandleCache;
  private sinceCheckpoint: number;

  /** Height including appends in flight, and the hash of the block at tipHeight - 1. */
  private tipHeight: number;
  private tipHash: Uint8Array;
  private queue: Pending[] = [];
  private writing: Promise<void> = Promise.resolve();
  private draining = false;
  private failure: LedgerError | undefined;
  private closing: Promise<void> | undefined;
  private readonly waiters = new Set<Waiter>();

  constructor(
    readonly dir: string,
    private readonly opts: Required<BlockStoreOptions>,
    private readonly logger: Logger,
    state: OpenedState,
    private readonly lock: DirectoryLock,
  ) {
    this.entries = state.entries;
    this.lastHash = state.lastHash;
    this.active = state.active;
    this.indexHandle = state.indexHandle;
    this.recovery = state.recovery;
    this.sinceCheckpoint = state.sinceCheckpoint;
    this.tipHeight = this.entries.length;
    this.tipHash = this.lastHash;
    this.reads = new HandleCache(dir, opts.maxOpenFiles);
  }

  height(): bigint {
    return BigInt(this.entries.length);
  }

  lastBlockHash(): Uint8Array {
    return this.lastHash.slice();
  }

  append(input: Block | Uint8Array): Promise<void> {
    try {
      if (this.closing !== undefined) throw new LedgerError("STORE_CLOSED", `block store ${this.dir} is closed; open it again to append`);
      if (this.failure !== undefined) throw this.failure;
      let block: Block;
      let bytes: Uint8Array;
      if (input instanceof Uint8Array) {
        bytes = input;
        try {
          block = Block.decode(input);
        } catch (err) {
          throw new LedgerError("MALFORMED_BLOCK", `append: the bytes are not a serialized common.Block: ${errorMessage(err)}`, { cause: err });
        }
      } else {
        block = input;
        bytes = Block.encode(input).finish();
      }
      const header = block.header;
      if (header === undefined) throw new LedgerError("MALFORMED_BLOCK", "append: the block has no header; expected header.number, previous_hash and data_hash");
      if (bytes.byteLength > MAX_BLOCK_BYTES) throw new LedgerError("BLOCK_TOO_LARGE", `append: block ${header.number} is ${bytes.byteLength} bytes, the maximum is ${MAX_BLOCK_BYTES}`);
      const expected = BigInt(this.tipHeight);
      if (header.number !== expected) {
        throw new LedgerError("UNEXPECTED_BLOCK_NUMBER", `append: expected block number ${expected} (the next after the current height), got ${header.number}`);
      }
      if (expected > 0n && !bytesEqual(header.previousHash, this.tipHash)) {
        throw new LedgerError(
          "PREVIOUS_HASH_MISMATCH",
          `append: block ${expected} previous_hash ${toHex(header.previousHash)} is not the hash of block ${expected - 1n}'s header (${toHex(this.tipHash)}); the block does not extend this chain`,
        );
      }
      if (this.opts.verifyDataHash) {
        const dh = blockDataHash(block.data);
        if (!bytesEqual(header.dataHash, dh)) {
          throw new LedgerError("DATA_HASH_MISMATCH", `append: block ${expected} data_hash ${toHex(header.dataHash)} is not the SHA-256 of its data (${toHex(dh)})`);
        }
      }
      const hash = blockHeaderHash(header);
      const number = this.tipHeight;
      this.tipHeight++;
      this.tipHash = hash;
      return new Promise<void>((resolve, reject) => {
        this.queue.push({ number, header: encodeRecordHeader(expected, bytes), bytes, hash, resolve, reject });
        if (!this.draining) {
          this.draining = true;
          this.writing = this.drain();
        }
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The group-commit writer: one write and one fdatasync per batch of queued appends. Never rejects.
   * `draining` is cleared synchronously when the queue is empty, so an append made in the continuation
   * of a resolved append starts a new drain rather than being stranded.
   */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.failure === undefined) {
        let n = 0;
        let bytes = 0;
        while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.bytes.byteLength <= MAX_BATCH_BYTES)) {
          bytes += RECORD_HEADER_BYTES + this.queue[n]!.bytes.byteLength;
          n++;
        }
        const batch = this.queue.splice(0, n);
        try {
          await this.writeBatch(batch);
        } catch (err) {
          this.fail(err, batch);
          return;
        }
        for (const p of batch) p.resolve();
        this.notifyWaiters();
        if (this.sinceCheckpoint >= this.opts.checkpointIntervalBlocks) {
          try {
            await this.writeCheckpoint();
          } catch (err) {
            this.fail(err, []);
            return;
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private fail(err: unknown, batch: Pending[]): void {
    this.failure = new LedgerError("STORE_FAILED", `block store ${this.dir}: a write failed (${errorMessage(err)}); appends are refused until the store is reopened`, { cause: err });
    this.logger.error("block store write failed", { dir: this.dir, error: errorMessage(err) });
    const rejected = [...batch, ...this.queue];
    this.queue = [];
    for (const p of rejected) p.reject(this.failure);
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const max = this.opts.maxFileBytes;
    const newEntries: IndexEntry[] = [];
    let parts: Uint8Array[] = [];
    let startPos = this.active.size;
    let pos = startPos;
    for (const p of batch) {
      const size = RECORD_HEADER_BYTES + p.bytes.byteLength;
      if (pos > 0 && pos + size > max) {
        // Finish and fsync this segment before the next one exists: only the last segment can have a torn tail.
        await this.flush(parts, startPos);
        this.active.size = pos;
        await this.roll();
        parts = [];
        startPos = 0;
        pos = 0;
      }
      parts.push(p.header, p.bytes);
      newEntries.push({ file: this.active.file, offset: pos, length: p.bytes.byteLength });
      pos += size;
    }
    await this.flush(parts, startPos);
    this.active.size = pos;

    // Index entries only after the data is durable (recovery relies on this order).
    const first = batch[0]!.number;
    const raw = new Uint8Array(newEntries.length * INDEX_ENTRY_BYTES);
    for (let i = 0; i < newEntries.length; i++) {
      encodeIndexEntry(BigInt(first + i), newEntries[i]!, raw.subarray(i * INDEX_ENTRY_BYTES, (i + 1) * INDEX_ENTRY_BYTES));
    }
    await writeFully(this.indexHandle, raw, first * INDEX_ENTRY_BYTES);
    this.entries.push(...newEntries);
    this.lastHash = batch[batch.length - 1]!.hash;
    this.sinceCheckpoint += batch.length;
  }

  private async flush(parts: Uint8Array[], position: number): Promise<void> {
    if (parts.length === 0) return;
    await writeFully(this.active.handle, parts.length === 1 ? parts[0]! : Buffer.concat(parts), position);
    await this.active.handle.datasync();
  }

  private async roll(): Promise<void> {
    const file = this.active.file + 1;
    const handle = await open(join(this.dir, segmentName(file)), "wx+");
    try {
      await fsyncDir(this.dir);
    } catch (err) {
      await handle.close();
      throw err;
    }
    const old = this.active.handle;
    this.active = { file, handle, size: 0 };
    await old.close();
  }

  private async writeCheckpoint(): Promise<void> {
    await this.indexHandle.datasync();
    const bytes = encodeCheckpoint({ height: BigInt(this.entries.length), file: this.active.file, offset: this.active.size });
    const tmp = join(this.dir, CHECKPOINT_TMP_FILE);
    const h = await open(tmp, "w");
    try {
      await writeFully(h, bytes, 0);
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, join(this.dir, CHECKPOINT_FILE));
    await fsyncDir(this.dir);
    this.sinceCheckpoint = 0;
  }

  private notifyWaiters(): void {
    const h = this.entries.length;
    for (const w of this.waiters) {
      if (h >= w.height) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  async getBlockBytes(n: bigint): Promise<Uint8Array> {
    if (this.closing !== undefined) throw new LedgerError("STORE_CLOSED", `block store ${this.dir} is closed`);
    if (n < 0n || n >= BigInt(this.entries.length)) {
      throw new LedgerError("BLOCK_NOT_FOUND", `block ${n} is not in the store (height ${this.entries.length})`);
    }
    const e = this.entries[Number(n)]!;
    const buf = await this.reads.withHandle(e.file, (h) => readFully(h, e.offset, RECORD_HEADER_BYTES + e.length));
    const where = `${segmentName(e.file)} offset ${e.offset}`;
    if (buf.byteLength < RECORD_HEADER_BYTES + e.length) {
      throw new LedgerError("CORRUPT_BLOCK", `block ${n} at ${where}: the file ends before the record does; the ledger is damaged`);
    }
    const header = buf.subarray(0, RECORD_HEADER_BYTES);
    const payload = new Uint8Array(buf.buffer, buf.byteOffset + RECORD_HEADER_BYTES, e.length);
    const h = decodeRecordHeader(header);
    if (h.magic !== RECORD_MAGIC || h.length !== e.length || h.number !== n || !recordCrcOk(header, payload)) {
      throw new LedgerError("CORRUPT_BLOCK", `block ${n} at ${where}: the record fails its framing or checksum; the ledger is damaged, restore it from a backup`);
    }
    return payload;
  }

  async getBlock(n: bigint): Promise<Block> {
    const bytes = await this.getBlockBytes(n);
    try {
      return Block.decode(bytes);
    } catch (err) {
      throw new LedgerError("CORRUPT_BLOCK", `block ${n}: stored bytes do not decode as a common.Block`, { cause: err });
    }
  }

  async *iterate(from: bigint, to?: bigint): AsyncIterableIterator<Block> {
    for (let n = from < 0n ? 0n : from; ; n++) {
      if (n >= this.height() || (to !== undefined && n >= to)) return;
      yield await this.getBlock(n);
    }
  }

  waitForHeight(height: bigint, signal?: AbortSignal): Promise<void> {
    if (BigInt(this.entries.length) >= height) return Promise.resolve();
    if (this.closing !== undefined) return Promise.reject(new LedgerError("STORE_CLOSED", `block store ${this.dir} is closed`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(w);
        reject(signal?.reason);
      };
      const w: Waiter = {
        height: Number(height),
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(w);
    });
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    while (this.draining) await this.writing;
    const closed = new LedgerError("STORE_CLOSED", `block store ${this.dir} was closed`);
    for (const w of this.waiters) w.reject(closed);
    this.waiters.clear();
    try {
      if (this.failure === undefined && this.sinceCheckpoint > 0) await this.writeCheckpoint();
    } catch (err) {
      this.logger.warn("could not write the block store checkpoint on close; the next open rescans", { dir: this.dir, error: errorMessage(err) });
    } finally {
      await this.reads.closeAll();
      await this.active.handle.close().catch(() => undefined);
      await this.indexHandle.close().catch(() => undefined);
      await this.lock.release();
    }
  }
}
