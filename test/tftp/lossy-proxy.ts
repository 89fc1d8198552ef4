/**
 * A UDP proxy that sits between a TFTP client and 3rc and mistreats packets on purpose: it drops
 * and duplicates them by a fixed pattern (deterministic, so a failure replays). The client talks
 * to the proxy's port only; the proxy follows the server's transfer port (RFC 1350 TID).
 */
import dgram from 'node:dgram';

export interface LossyStats {
  forwarded: number;
  dropped: number;
  duplicated: number;
}

export class LossyProxy {
  readonly stats: LossyStats = { forwarded: 0, dropped: 0, duplicated: 0 };
  private readonly front = dgram.createSocket('udp4');
  private readonly back = dgram.createSocket('udp4');
  private client: { address: string; port: number } | undefined;
  private serverPort: number;
  private n = 0;

  /** Every `dropEvery`-th packet (both directions) is dropped, every `dupEvery`-th sent twice. */
  constructor(
    private readonly target: number,
    private readonly dropEvery: number,
    private readonly dupEvery: number,
  ) {
    this.serverPort = target;
  }

  async start(): Promise<number> {
    await new Promise<void>((r) => this.front.bind(0, '127.0.0.1', r));
    await new Promise<void>((r) => this.back.bind(0, '127.0.0.1', r));
    this.front.on('message', (msg, rinfo) => {
      // A new request starts a new exchange with the server's request port.
      if (msg.length >= 2 && msg.readUInt16BE(0) === 1) this.serverPort = this.target;
      this.client = { address: rinfo.address, port: rinfo.port };
      this.pass(msg, (m) => this.back.send(m, this.serverPort, '127.0.0.1'));
    });
    this.back.on('message', (msg, rinfo) => {
      this.serverPort = rinfo.port;
      const c = this.client;
      if (c) this.pass(msg, (m) => this.front.send(m, c.port, c.address));
    });
    return (this.front.address()).port;
  }

  private pass(msg: Buffer, send: (m: Buffer) => void): void {
    this.n++;
    // Never drop the very first request, so the test measures the transfer, not the client's RRQ timer.
    if (this.n > 1 && this.n % this.dropEvery === 0) {
      this.stats.dropped++;
      return;
    }
    send(msg);
    this.stats.forwarded++;
    if (this.n % this.dupEvery === 0) {
      send(Buffer.from(msg));
      this.stats.duplicated++;
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.front.close(() => r()));
    await new Promise<void>((r) => this.back.close(() => r()));
  }
}
