/**
 * A raw TFTP client for tests: sends exactly the packets a test asks for and shows exactly what
 * came back (OACK options, error codes, the transfer port), which real clients do not expose.
 */
import dgram from 'node:dgram';
import { decodePacket, encodeAck, encodeRequest, Op, type TftpOptions, type TftpPacket } from '../../src/tftp/packet.js';

export interface Received {
  packet: TftpPacket;
  port: number;
  address: string;
  bytes: number;
}

export class RawClient {
  readonly socket = dgram.createSocket('udp4');
  private queue: Received[] = [];
  private waiters: Array<(r: Received) => void> = [];

  static async open(address = '127.0.0.1'): Promise<RawClient> {
    const c = new RawClient();
    await new Promise<void>((resolve) => c.socket.bind(0, address, resolve));
    c.socket.on('message', (msg, rinfo) => {
      let packet: TftpPacket;
      try {
        packet = decodePacket(msg);
      } catch {
        return;
      }
      const r = { packet, port: rinfo.port, address: rinfo.address, bytes: msg.length };
      const w = c.waiters.shift();
      if (w) w(r);
      else c.queue.push(r);
    });
    return c;
  }

  get port(): number {
    return this.socket.address().port;
  }

  private pending = new Set<Promise<void>>();

  /** Sends; close() waits for every send to leave (a close right after send would drop it). */
  send(buf: Buffer, port: number, address = '127.0.0.1'): void {
    const p = new Promise<void>((resolve) => this.socket.send(buf, port, address, () => resolve()));
    this.pending.add(p);
    void p.then(() => this.pending.delete(p));
  }

  rrq(port: number, file: string, options: TftpOptions = [], mode = 'octet', address = '127.0.0.1'): void {
    this.send(encodeRequest(Op.RRQ, file, mode, options), port, address);
  }

  /** Next packet, or rejects after ms. */
  next(ms = 5000): Promise<Received> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`no TFTP packet within ${ms} ms`));
      }, ms);
      const done = (r: Received) => {
        clearTimeout(t);
        resolve(r);
      };
      this.waiters.push(done);
    });
  }

  /** Packets that arrive within ms (for "nothing more came" checks). */
  async drain(ms: number): Promise<Received[]> {
    await new Promise((r) => setTimeout(r, ms));
    const out = this.queue;
    this.queue = [];
    return out;
  }

  /**
   * Receives a whole file in lock-step from the transfer port `tid` (after the first DATA or OACK
   * already handled by the caller), ACKing as it goes; windowsize 1.
   */
  async receive(first: Received, blksize: number, opts: { beforeAck?: (block: number) => Promise<void> | void } = {}): Promise<Buffer> {
    const parts: Buffer[] = [];
    let r = first;
    let expected = 1;
    for (;;) {
      if (r.packet.op === Op.OACK) {
        this.send(encodeAck(0), r.port);
      } else if (r.packet.op === Op.DATA) {
        if (r.packet.block === (expected & 0xffff)) {
          parts.push(Buffer.from(r.packet.data));
          expected++;
          await opts.beforeAck?.(r.packet.block);
          this.send(encodeAck(r.packet.block), r.port);
          if (r.packet.data.length < blksize) return Buffer.concat(parts);
        }
      } else {
        throw new Error(`unexpected packet ${JSON.stringify(r.packet)}`);
      }
      r = await this.next();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pending]);
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
