/**
 * The fuzz campaign's randomness: a seeded generator (so a failing run can be replayed with
 * --seed) and the byte mutations every protocol generator applies to its captured seeds.
 */

/** A small seeded PRNG (mulberry32): fast, and the same sequence for the same seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** A string of `n` characters drawn from `alphabet`. */
  text(n: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  /** Sizes that find bugs: mostly small, sometimes at or past a boundary. */
  size(max: number): number {
    const r = this.next();
    if (r < 0.6) return this.int(Math.min(max, 64) + 1);
    if (r < 0.85) return this.int(max + 1);
    return this.pick([0, 1, 2, 3, 4, 255, 256, 511, 512, 513, 1023, 1024, 1467, 1468, 1469, max]);
  }
}

/** Values at the edges of 8-, 16- and 32-bit fields. */
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x3f, 0xc0];

/**
 * One to `rounds` random byte-level mutations of `seed` (AFL-style: bit flips, interesting
 * bytes, 16-bit length fields set to edges, block delete/duplicate/insert, truncation, a splice
 * with another seed). The result is at most `maxLen` bytes.
 */
export function mutate(rng: Rng, seed: Buffer, others: readonly Buffer[] = [], maxLen = 65_000, rounds = 4): Buffer {
  let b = Buffer.from(seed);
  const n = rng.range(1, rounds);
  for (let i = 0; i < n; i++) {
    const at = b.length ? rng.int(b.length) : 0;
    switch (rng.int(10)) {
      case 0:
        if (b.length) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length) b[at] = rng.pick(INTERESTING);
        break;
      case 2:
        if (b.length) b[at] = rng.int(256);
        break;
      case 3:
        if (b.length >= 2) b.writeUInt16BE(rng.pick([0, 1, 0x7fff, 0x8000, 0xffff, b.length, b.length + 1, rng.int(65536)]), Math.min(at, b.length - 2));
        break;
      case 4: {
        const len = rng.int(Math.min(64, b.length - at) + 1);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
        break;
      }
      case 5: {
        const len = rng.int(Math.min(64, b.length - at) + 1);
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
        break;
      }
      case 6:
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.size(64)), b.subarray(at)]);
        break;
      case 7:
        b = b.subarray(0, rng.int(b.length + 1));
        break;
      case 8: {
        const other = others.length ? rng.pick(others) : b;
        const cut = rng.int(other.length + 1);
        b = Buffer.concat([b.subarray(0, at), other.subarray(cut)]);
        break;
      }
      default:
        b = Buffer.concat([b, rng.bytes(rng.size(300))]);
    }
  }
  return b.length > maxLen ? b.subarray(0, maxLen) : b;
}

/** A seed: bytes a real client sent, and where they came from (printed with the results). */
export interface Seed {
  bytes: Buffer;
  /** e.g. `dig 9.18 (captured)`, `src/dhcp/testdata/udhcpc-discover.hex`. */
  origin: string;
  /** What it is, e.g. `RRQ pxelinux.0`, `A vm10.lab.test`. */
  what: string;
}
