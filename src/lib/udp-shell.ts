/**
 * A UDP listener whose protocol handler has not landed yet: it binds, logs each datagram it drops
 * (at debug, with the peer) and stops cleanly. The DHCP, TFTP and DNS servers start from here so
 * that the process wiring, port errors and lifecycle are real before their codecs are.
 */
import type dgram from 'node:dgram';
import { bindUdp, closeUdp, type ListenSpec } from './bind.js';
import type { Logger } from './log.js';
import type { Service } from './service.js';

export class UdpShell implements Service {
  private socket: dgram.Socket | undefined;
  readonly name: string;

  constructor(
    private readonly spec: ListenSpec,
    private readonly log: Logger,
    private readonly opts: { broadcast?: boolean } = {},
  ) {
    this.name = spec.name;
  }

  async start(): Promise<void> {
    const socket = await bindUdp(this.spec, { broadcast: this.opts.broadcast });
    socket.on('message', (msg, rinfo) => {
      this.log.debug({ peer: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, reason: 'handler-not-implemented' }, `${this.name}: datagram dropped`);
    });
    // A socket error after binding (e.g. ICMP unreachable surfaced by the OS) is logged, not fatal.
    socket.on('error', (err) => this.log.warn({ err }, `${this.name}: socket error`));
    this.socket = socket;
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    await closeUdp(s);
  }

  addresses(): string[] {
    if (!this.socket) return [];
    const a = this.socket.address();
    return [`${a.address}:${a.port}/udp`];
  }
}
