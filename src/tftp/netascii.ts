/**
 * netascii (RFC 1350, after RFC 764 Telnet NVT): line ends are CR LF and a bare CR is CR NUL.
 * Files on disk are Unix text (LF); a netascii read translates them on the way out, and the
 * RFC 2349 tsize of such a transfer is the translated size.
 */

/** Size of `data` once translated to netascii. */
export function netasciiSize(data: Uint8Array): number {
  let extra = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    if (c === 0x0a || c === 0x0d) extra++;
  }
  return data.length + extra;
}

/** LF -> CR LF, CR -> CR NUL. */
export function toNetascii(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(netasciiSize(data));
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    if (c === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (c === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x00;
    } else {
      out[o++] = c;
    }
  }
  return out;
}
