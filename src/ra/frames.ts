/**
 * The framed protocol between 3rc and its ICMPv6 helper (ra/helper-py.ts) over the helper's
 * stdin and stdout. Every frame is `u32 length (big-endian, of what follows) | u8 kind | body`,
 * at most MAX_FRAME bytes after the length. Nothing else is ever written on these pipes, so a
 * frame that breaks a rule means the other side is broken: 3rc kills and restarts the helper, the
 * helper exits.
 *
 * helper -> 3rc
 *   READY  (1)  the raw socket is open and filtered: 3rc may JOIN and SEND
 *   PACKET (2)  u32 ifindex | u8 hop limit | 16 bytes source | ICMPv6 message
 *   ERROR  (3)  UTF-8 text: an operation failed (the helper goes on)
 * 3rc -> helper
 *   JOIN   (16) u32 ifindex: listen for router solicitations there (ff02::2)
 *   LEAVE  (17) u32 ifindex
 *   SEND   (18) u32 ifindex | 16 bytes destination | ICMPv6 message (hop limit 255)
 */

export const MAX_FRAME = 70_000;

export const FrameKind = { READY: 1, PACKET: 2, ERROR: 3, JOIN: 16, LEAVE: 17, SEND: 18 } as const;

export type HelperFrame =
  | { kind: 'ready' }
  | { kind: 'packet'; ifindex: number; hopLimit: number; source: Buffer; message: Buffer }
  | { kind: 'error'; text: string };

/** Why a byte stream from the helper is not the protocol. */
export class FrameError extends Error {}

export function frame(kind: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1, 0);
  head[4] = kind;
  return Buffer.concat([head, body]);
}

function ifindexBytes(ifindex: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(ifindex, 0);
  return b;
}

export const joinFrame = (ifindex: number) => frame(FrameKind.JOIN, ifindexBytes(ifindex));
export const leaveFrame = (ifindex: number) => frame(FrameKind.LEAVE, ifindexBytes(ifindex));
export function sendFrame(ifindex: number, destination: Buffer, message: Buffer): Buffer {
  if (destination.length !== 16) throw new FrameError('destination must be 16 bytes');
  return frame(FrameKind.SEND, Buffer.concat([ifindexBytes(ifindex), destination, message]));
}

/**
 * Reads helper frames from stdout chunks. push() returns the complete frames; it throws a
 * FrameError (and stays broken) on a length of 0 or over MAX_FRAME, an unknown kind, or a body
 * that does not fit its kind.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private broken = false;

  push(chunk: Buffer): HelperFrame[] {
    if (this.broken) throw new FrameError('the stream broke earlier');
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: HelperFrame[] = [];
    try {
      while (this.buf.length >= 4) {
        const len = this.buf.readUInt32BE(0);
        if (len === 0 || len > MAX_FRAME) throw new FrameError(`frame length ${len}`);
        if (this.buf.length < 4 + len) break;
        const kind = this.buf[4]!;
        const body = this.buf.subarray(5, 4 + len);
        this.buf = this.buf.subarray(4 + len);
        out.push(parse(kind, body));
      }
    } catch (err) {
      this.broken = true;
      throw err;
    }
    return out;
  }
}

function parse(kind: number, body: Buffer): HelperFrame {
  switch (kind) {
    case FrameKind.READY:
      if (body.length !== 0) throw new FrameError('READY with a body');
      return { kind: 'ready' };
    case FrameKind.PACKET:
      if (body.length < 21) throw new FrameError(`PACKET of ${body.length} bytes`);
      return { kind: 'packet', ifindex: body.readUInt32BE(0), hopLimit: body[4]!, source: Buffer.from(body.subarray(5, 21)), message: Buffer.from(body.subarray(21)) };
    case FrameKind.ERROR:
      return { kind: 'error', text: body.toString('utf8').slice(0, 500) };
    default:
      throw new FrameError(`unknown frame kind ${kind}`);
  }
}
