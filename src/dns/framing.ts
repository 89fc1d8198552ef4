/**
 * DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by its length in
 * two bytes. Pure: bytes in, whole messages out. A connection carries any number of messages,
 * pipelined (RFC 7766 §6.2.1.1); the buffer never holds more than one partial message.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  /**
   * Adds received bytes; returns the complete messages, or an error reason when the stream is
   * hostile (a zero-length message, which no client sends) and the connection should close.
   */
  push(chunk: Buffer): { messages: Buffer[]; error?: string } {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const messages: Buffer[] = [];
    let off = 0;
    while (this.buf.length - off >= 2) {
      const len = this.buf.readUInt16BE(off);
      if (len === 0) {
        this.buf = Buffer.alloc(0);
        return { messages, error: 'zero-length-message' };
      }
      if (this.buf.length - off - 2 < len) break;
      messages.push(this.buf.subarray(off + 2, off + 2 + len));
      off += 2 + len;
    }
    this.buf = off === 0 ? this.buf : Buffer.from(this.buf.subarray(off));
    return { messages };
  }

  /** Bytes of an incomplete message waiting for the rest. */
  get pending(): number {
    return this.buf.length;
  }
}

/** A message with its two-byte length prefix. */
export function frame(msg: Buffer): Buffer {
  return frameAll([msg]);
}

/** Several messages, each with its length prefix, in one buffer (one write for a batch of answers). */
export function frameAll(msgs: readonly Buffer[]): Buffer {
  let size = 0;
  for (const m of msgs) size += m.length + 2;
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (const m of msgs) {
    out.writeUInt16BE(m.length, off);
    off += 2 + m.copy(out, off + 2);
  }
  return out;
}
