/**
 * The receiving end of one P2V disk: a raw image file written chunk by chunk from gzip'd HTTP
 * bodies, and a sidecar (`<image>.chunks.json`) recording which chunks are safely on disk, so an
 * interrupted capture resumes at the first missing chunk instead of starting over.
 *
 * Integrity: a chunk counts only after its compressed bytes matched the SHA-256 the sender
 * gave, its raw length was exact, and the image was fdatasync'd; the sidecar is then replaced
 * atomically (tmp file, fsync, rename, fsync of the directory).
 *
 * Sparseness: the file starts as one hole (ftruncate), so 64 KiB blocks of zeros need not be
 * written. That is only safe where nothing was ever written: once an attempt at a chunk has
 * been made (it may have failed half-way, leaving stale bytes), every later attempt at it
 * writes every block. A resumed image (non-empty sidecar) has unknown stale bytes in every
 * chunk not yet received, so it writes every block of every chunk.
 *
 * Checksum: chunks that arrive in order (0, 1, 2...) feed a running SHA-256 of the image as they
 * are written, so the digest of a capture sent in order is ready the moment its last chunk is in;
 * only the part after the first chunk that came out of order (or everything, for an image resumed
 * after a restart: a hash state cannot be stored) is read back from the file.
 *
 * Modes: the image holds a whole disk (its /etc/shadow, its keys): the image and its sidecar are
 * created 0600, and an existing one is made 0600.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ChunkErrorCodes, hasErrno, ThreeRcError } from '../lib/errors.js';

/** Zero-skipping granularity: the usual filesystem block (4 KiB) times 16, a cheap memcmp. */
const SPARSE_BLOCK = 64 * 1024;
/** Raw bytes buffered before one positional write: bounds memory per receive. */
const WRITE_BATCH = 16 * SPARSE_BLOCK;
const ZEROS = Buffer.alloc(SPARSE_BLOCK);
/** Images and sidecars: a whole disk's secrets, for the owner only. */
const IMAGE_MODE = 0o600;

export type ChunkErrorCode = (typeof ChunkErrorCodes)[keyof typeof ChunkErrorCodes];

/** A chunk refused; the capture side retries it (or, for BAD_INDEX, has a bug). */
export class ChunkError extends ThreeRcError {
  declare readonly code: ChunkErrorCode;
  constructor(code: ChunkErrorCode, message: string) {
    super(code, message);
  }
}

export interface DiskImageOptions {
  path: string;
  bytes: number;
  chunkBytes: number;
}

interface Sidecar {
  bytes: number;
  chunkBytes: number;
  received: number[];
}

export class DiskImage {
  private closed = false;
  private readonly busy = new Set<number>();
  /** Chunks at which an attempt was made since open (or all, when resumed): write zeros too. */
  private readonly attempted = new Set<number>();
  private resumed = false;
  /** Sidecar writes, one at a time, each writing the set as it is then. */
  private saving: Promise<void> = Promise.resolve();
  /** SHA-256 of chunks 0..hashed-1, fed as they were written in order. */
  private running: Hash = createHash('sha256');
  private hashed = 0;

  private constructor(
    private readonly o: DiskImageOptions,
    private readonly fh: FileHandle,
    private readonly received: Set<number>,
  ) {}

  /**
   * Opens (or creates) the image. The sidecar is trusted only if it matches bytes/chunkBytes,
   * the file has the right size and at least one chunk was received; otherwise the image
   * starts over as one hole (truncate to 0, then to `bytes`) with nothing received.
   */
  static async open(o: DiskImageOptions): Promise<DiskImage> {
    for (const k of ['bytes', 'chunkBytes'] as const) {
      if (!Number.isSafeInteger(o[k]) || o[k] < 1) throw new RangeError(`DiskImage: ${k} must be a positive integer, got ${o[k]}`);
    }
    let fh: FileHandle;
    let existed = true;
    try {
      fh = await open(o.path, 'r+');
    } catch (err) {
      if (!hasErrno(err, 'ENOENT')) throw err;
      fh = await open(o.path, 'w+', IMAGE_MODE);
      existed = false;
    }
    try {
      await fh.chmod(IMAGE_MODE);
      const count = Math.ceil(o.bytes / o.chunkBytes);
      const sidecar = await readSidecar(sidecarPath(o.path), o, count);
      const sizeOk = existed && (await fh.stat()).size === o.bytes;
      const keep = sidecar !== null && sizeOk && sidecar.received.length > 0;
      const image = new DiskImage(o, fh, new Set(keep ? sidecar.received : []));
      if (keep) {
        image.resumed = true;
      } else {
        // Nothing worth keeping: drop every data block so the zero-skipping premise holds.
        await fh.truncate(0);
        await fh.truncate(o.bytes);
        await image.saveSidecar();
      }
      return image;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  get chunkCount(): number {
    return Math.ceil(this.o.bytes / this.o.chunkBytes);
  }

  /** Lowest chunk index not yet received; chunkCount when all are. */
  nextChunk(): number {
    for (let i = 0; i < this.chunkCount; i++) if (!this.received.has(i)) return i;
    return this.chunkCount;
  }

  /** How many chunks are received. */
  receivedChunks(): number {
    return this.received.size;
  }

  /** Raw bytes of the received chunks. */
  receivedBytes(): number {
    let n = 0;
    for (const i of this.received) n += this.chunkLength(i);
    return n;
  }

  isComplete(): boolean {
    return this.received.size === this.chunkCount;
  }

  /**
   * Writes chunk `index` from a gzip stream; `sha256` is the hex SHA-256 of the compressed bytes
   * as sent. `onBytes` gets raw byte counts (increments) as they are written or skipped.
   * Rejects with ChunkError (bad-index and busy before reading the body; on bad-length the body
   * is destroyed at once), or with the body's or the file's own error. Re-sending a received
   * chunk is allowed: it is unmarked first, and marked again only if this attempt succeeds.
   */
  async receive(index: number, body: NodeJS.ReadableStream | Readable, sha256: string, onBytes?: (rawBytes: number) => void): Promise<{ rawBytes: number }> {
    if (this.closed) throw new Error(`DiskImage ${this.o.path} is closed`);
    if (!Number.isInteger(index) || index < 0 || index >= this.chunkCount) {
      throw new ChunkError(ChunkErrorCodes.BAD_INDEX, `chunk ${index} is not in 0..${this.chunkCount - 1}`);
    }
    if (this.busy.has(index)) throw new ChunkError(ChunkErrorCodes.BUSY, `chunk ${index} is already being received`);
    this.busy.add(index);
    try {
      const sparse = !this.resumed && !this.attempted.has(index);
      this.attempted.add(index);
      if (this.received.delete(index)) await this.saveSidecar();
      // A chunk already in the running hash is being replaced: the hash no longer holds.
      if (index < this.hashed) this.resetHash();
      // The next chunk of the running hash: fed into a copy, kept only if this attempt succeeds.
      const next = index === this.hashed ? this.running.copy() : undefined;
      const rawBytes = await this.write(index, body, sha256.toLowerCase(), sparse, onBytes, next);
      await this.fh.datasync();
      this.received.add(index);
      try {
        await this.saveSidecar();
      } catch (err) {
        this.received.delete(index);
        throw err;
      }
      if (next && index === this.hashed) {
        this.running = next;
        this.hashed++;
      }
      return { rawBytes };
    } finally {
      this.busy.delete(index);
    }
  }

  /**
   * The SHA-256 (hex) of the whole image without reading the file, when every chunk went into
   * the running hash (they arrived in order); else undefined (see sha256()).
   */
  digestReady(): string | undefined {
    return this.hashed === this.chunkCount && this.isComplete() ? this.running.copy().digest('hex') : undefined;
  }

  /**
   * SHA-256 (hex) of the whole image: the running hash of the chunks received in order, then the
   * rest of the file read as a stream (all of it for a resumed image).
   */
  async sha256(): Promise<string> {
    const ready = this.digestReady();
    if (ready) return ready;
    const hash = this.running.copy();
    const start = this.hashed * this.o.chunkBytes;
    if (start < this.o.bytes) await pipeline(createReadStream(this.o.path, { start, highWaterMark: WRITE_BATCH }), hash);
    return hash.digest('hex');
  }

  private resetHash(): void {
    this.running = createHash('sha256');
    this.hashed = 0;
  }

  /** Closes the file once pending sidecar writes are done. Call after receives have settled. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.saving;
    await this.fh.close();
  }

  private chunkLength(index: number): number {
    return Math.min(this.o.chunkBytes, this.o.bytes - index * this.o.chunkBytes);
  }

  /** Streams one chunk to the file; returns the raw length. */
  private async write(index: number, body: NodeJS.ReadableStream | Readable, sha256: string, sparse: boolean, onBytes?: (n: number) => void, image?: Hash): Promise<number> {
    const expected = this.chunkLength(index);
    const start = index * this.o.chunkBytes;
    // Deflate never grows data by more than a few bytes per 16 KiB: anything far beyond the raw
    // length is not a gzip of this chunk (trailing garbage would otherwise be hashed forever).
    const maxCompressed = expected + Math.ceil(expected / 256) + 64 * 1024;
    const hash = createHash('sha256');
    let compressed = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        compressed += chunk.length;
        if (compressed > maxCompressed) return cb(new ChunkError(ChunkErrorCodes.BAD_LENGTH, `chunk ${index}: more than ${maxCompressed} compressed bytes`));
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    const fh = this.fh;
    const batch = Buffer.allocUnsafe(Math.min(WRITE_BATCH, Math.ceil(expected / SPARSE_BLOCK) * SPARSE_BLOCK));
    let fill = 0; // bytes in batch
    let flushed = 0; // raw bytes of this chunk already written or skipped
    let raw = 0; // raw bytes seen

    const flush = async (): Promise<void> => {
      // Coalesce runs of blocks to write; skip all-zero blocks when sparse.
      let runStart = 0;
      for (let b = 0; b < fill; b += SPARSE_BLOCK) {
        const end = Math.min(b + SPARSE_BLOCK, fill);
        if (!sparse || !batch.subarray(b, end).equals(ZEROS.subarray(0, end - b))) continue;
        if (b > runStart) await writeAll(fh, batch.subarray(runStart, b), start + flushed + runStart);
        runStart = end;
      }
      if (fill > runStart) await writeAll(fh, batch.subarray(runStart, fill), start + flushed + runStart);
      flushed += fill;
      if (fill > 0) onBytes?.(fill);
      fill = 0;
    };

    const sink = new Writable({
      highWaterMark: 4 * SPARSE_BLOCK,
      write(chunk: Buffer, _enc, cb) {
        raw += chunk.length;
        if (raw > expected) return cb(new ChunkError(ChunkErrorCodes.BAD_LENGTH, `chunk ${index}: more than ${expected} bytes after gunzip`));
        image?.update(chunk);
        (async () => {
          let at = 0;
          while (at < chunk.length) {
            const n = chunk.copy(batch, fill, at);
            fill += n;
            at += n;
            if (fill === batch.length) await flush();
          }
        })().then(() => cb(), cb);
      },
      final(cb) {
        flush().then(() => cb(raw === expected ? null : new ChunkError(ChunkErrorCodes.BAD_LENGTH, `chunk ${index}: ${raw} bytes after gunzip, expected ${expected}`)), cb);
      },
    });

    try {
      await pipeline(body, tap, createGunzip({ chunkSize: SPARSE_BLOCK }), sink);
    } catch (err) {
      if (err instanceof ChunkError) throw err;
      if (isZlibError(err)) throw new ChunkError(ChunkErrorCodes.BAD_GZIP, `chunk ${index}: ${(err as Error).message}`);
      throw err;
    }
    const got = hash.digest('hex');
    if (got !== sha256) throw new ChunkError(ChunkErrorCodes.BAD_CHECKSUM, `chunk ${index}: SHA-256 of the body is ${got}, expected ${sha256}`);
    return raw;
  }

  private saveSidecar(): Promise<void> {
    const run = this.saving.then(() => writeSidecar(this.o, [...this.received].sort((a, b) => a - b)));
    this.saving = run.catch(() => {});
    return run;
  }
}

function sidecarPath(path: string): string {
  return `${path}.chunks.json`;
}

/** The sidecar if it is readable and describes this image, else null. */
async function readSidecar(path: string, o: DiskImageOptions, count: number): Promise<Sidecar | null> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return null;
  }
  const s = data as Partial<Sidecar> | null;
  if (typeof s !== 'object' || s === null || s.bytes !== o.bytes || s.chunkBytes !== o.chunkBytes || !Array.isArray(s.received)) return null;
  if (!s.received.every((i) => Number.isInteger(i) && i >= 0 && i < count)) return null;
  return { bytes: s.bytes, chunkBytes: s.chunkBytes, received: [...new Set(s.received)] };
}

/** Replaces the sidecar atomically and durably. */
async function writeSidecar(o: DiskImageOptions, received: number[]): Promise<void> {
  const path = sidecarPath(o.path);
  const tmp = `${path}.tmp`;
  const sidecar: Sidecar = { bytes: o.bytes, chunkBytes: o.chunkBytes, received };
  const fh = await open(tmp, 'w', IMAGE_MODE);
  try {
    await fh.chmod(IMAGE_MODE);
    await fh.writeFile(`${JSON.stringify(sidecar)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  // The rename itself is durable only once the directory is synced.
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}

/** zlib stream errors carry a Z_* code (Z_DATA_ERROR, Z_BUF_ERROR for a truncated stream). */
function isZlibError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
