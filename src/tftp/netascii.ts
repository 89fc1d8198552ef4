/**
 * netascii (RFC 1350, after RFC 764 Telnet NVT): line ends are CR LF and a bare CR is CR NUL.
 * Files on disk are Unix text (LF); a netascii read translates them on the way out, and the
 * RFC 2349 tsize of such a transfer is the translated size.
 *
 * A netascii read never copies the file (a 40 MB initrd asked for in netascii cost a
 * 42 MB copy and a 370 ms event-loop stall per request, so one host could exhaust 3rc):
 * - blocks are translated one at a time from the (cached) file, by {@link NetasciiBlocks};
 * - the translated size (needed for tsize and to know the last block) is counted in chunks that
 *   yield to the event loop between them, and cached per file buffer (the boot-file cache hands
 *   out the same Buffer for the same file), so a boot storm counts each cached file once.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';

const CR = 0x0d;
const LF = 0x0a;

/** Bytes counted between two yields to the event loop (about a millisecond of work). */
const COUNT_CHUNK = 1 << 20;

/** Size of `data` once translated to netascii (synchronous: small data and tests). */
export function netasciiSize(data: Uint8Array): number {
  return data.length + countLineEnds(data);
}

/** CR and LF bytes in data (each becomes two bytes), with the native byte search. */
function countLineEnds(data: Uint8Array): number {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let n = 0;
  for (const c of [CR, LF]) for (let i = b.indexOf(c); i >= 0; i = b.indexOf(c, i + 1)) n++;
  return n;
}

const sizes = new WeakMap<Uint8Array, Promise<number>>();

/**
 * {@link netasciiSize} without a long synchronous loop: counted in chunks of 1 MiB with a yield
 * between them, and remembered for this buffer (concurrent requests share one count).
 */
export function netasciiSizeOf(data: Uint8Array): Promise<number> {
  let p = sizes.get(data);
  if (!p) {
    p = countInChunks(data);
    sizes.set(data, p);
  }
  return p;
}

async function countInChunks(data: Uint8Array): Promise<number> {
  let size = data.length;
  for (let off = 0; off < data.length; off += COUNT_CHUNK) {
    if (off > 0) await yieldToLoop();
    size += countLineEnds(data.subarray(off, off + COUNT_CHUNK));
  }
  return size;
}

/** LF -> CR LF, CR -> CR NUL (a whole buffer at once: tests and small data only). */
export function toNetascii(data: Uint8Array): Buffer {
  const out: Buffer[] = [];
  const blocks = new NetasciiBlocks(data, 4096);
  for (let n = 1; ; n++) {
    const [b] = blocks.blocks(n, 1);
    out.push(b!);
    if (b!.length < 4096) return Buffer.concat(out);
  }
}

/** Where a block starts in the source: input offset, and the second half of a pair cut by the previous block's end. */
interface Cursor {
  in: number;
  /** LF or NUL still owed from a CR LF / CR NUL pair split across blocks; -1: none. */
  carry: number;
}

/**
 * The netascii translation of `data`, block by block (block n is bytes (n-1)*blksize.. of the
 * translated stream). A translated block does not map to a fixed input range (each CR and LF
 * takes two bytes, and a pair may straddle two blocks), so the start of each block still needed
 * is remembered: blocks are asked for in windows that only move forward (a retransmission starts
 * again at the window's first block), and the starts before the current window are forgotten.
 * Memory: one small cursor per block of the window, never a copy of the file.
 */
export class NetasciiBlocks {
  private readonly starts = new Map<number, Cursor>([[1, { in: 0, carry: -1 }]]);

  constructor(
    private readonly data: Uint8Array,
    private readonly blksize: number,
  ) {}

  /** Translated blocks first..first+count-1 (each blksize bytes, the last one shorter). */
  blocks(first: number, count: number): Buffer[] {
    for (const n of this.starts.keys()) if (n < first) this.starts.delete(n);
    let cursor = this.starts.get(first);
    if (!cursor) cursor = this.walkTo(first);
    const out: Buffer[] = [];
    for (let n = first; n < first + count; n++) {
      const [block, next] = this.translate(cursor);
      out.push(block);
      cursor = next;
      this.starts.set(n + 1, next);
    }
    return out;
  }

  /** The start of block n when it was not remembered (a caller that went back): from block 1. */
  private walkTo(n: number): Cursor {
    let cursor: Cursor = { in: 0, carry: -1 };
    for (let b = 1; b < n; b++) cursor = this.translate(cursor)[1];
    return cursor;
  }

  private translate(at: Cursor): [Buffer, Cursor] {
    const data = this.data;
    const size = this.blksize;
    const out = Buffer.allocUnsafe(size);
    let o = 0;
    let i = at.in;
    let carry = -1;
    if (at.carry >= 0) out[o++] = at.carry;
    while (o < size && i < data.length) {
      // A run without CR or LF is copied as is.
      const limit = Math.min(data.length, i + (size - o));
      let j = i;
      while (j < limit && data[j] !== CR && data[j] !== LF) j++;
      if (j > i) {
        out.set(data.subarray(i, j), o);
        o += j - i;
        i = j;
      }
      if (o >= size || i >= data.length) break;
      const second = data[i++] === LF ? LF : 0x00;
      out[o++] = CR;
      if (o < size) out[o++] = second;
      else carry = second;
    }
    return [out.subarray(0, o), { in: i, carry }];
  }
}
