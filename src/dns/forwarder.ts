/**
 * Relays queries for names outside the zone to the configured forwarders, over UDP, for clients
 * that respond() allowed (managed subnets only). Each query goes out with a fresh random ID and
 * is matched on upstream address, port, ID and question, so a spoofed or stray datagram cannot
 * answer a client (RFC 5452 §9). Upstreams are tried in order, each for FORWARD_TIMEOUT_MS.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import type { Clock, Timer } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { Query } from './wire.js';

/** How long one upstream has to answer before the next is tried. */
export const FORWARD_TIMEOUT_MS = 2000;
/** Queries in flight upstream at once; beyond it, clients get SERVFAIL at once. */
export const MAX_PENDING = 1024;
const DNS_PORT = 53;

interface Pending {
  id: number;
  question: Buffer;
  upstream: number;
  sent: Buffer;
  timer: Timer;
  resolve: (reply: Buffer | null) => void;
}

/** One UDP socket towards the forwarders, with the queries in flight on it. */
export class Forwarder {
  private socket: dgram.Socket | undefined;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly upstreams: readonly string[],
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly port = DNS_PORT,
  ) {}

  async start(): Promise<void> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('message', (msg, rinfo) => this.onReply(msg, rinfo));
    socket.on('error', (err) => this.log.warn({ err }, 'dns: forwarder socket error'));
    this.socket = socket;
  }

  async stop(): Promise<void> {
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.resolve(null);
    }
    this.pending.clear();
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /**
   * The upstream answer to `msg` with the client's ID restored, or null when every upstream
   * timed out (or forwarding is saturated or stopped).
   */
  forward(msg: Buffer, q: Query): Promise<Buffer | null> {
    if (!this.socket || this.upstreams.length === 0 || this.pending.size >= MAX_PENDING) return Promise.resolve(null);
    let id: number;
    do id = randomInt(0, 0x10000);
    while (this.pending.has(id));
    const sent = Buffer.from(msg.subarray(0, msg.length));
    sent.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const p: Pending = {
        id,
        question: Buffer.from(msg.subarray(12, q.qEnd)),
        upstream: 0,
        sent,
        timer: { cancel() {} },
        resolve: (reply) => {
          if (reply) reply.writeUInt16BE(q.id, 0);
          resolve(reply);
        },
      };
      this.pending.set(id, p);
      this.send(p);
    });
  }

  private send(p: Pending): void {
    const upstream = this.upstreams[p.upstream]!;
    p.timer = this.clock.schedule(FORWARD_TIMEOUT_MS, () => {
      this.log.debug({ upstream, reason: 'timeout' }, 'dns: forwarder did not answer');
      p.upstream++;
      if (p.upstream < this.upstreams.length && this.socket) this.send(p);
      else {
        this.pending.delete(p.id);
        p.resolve(null);
      }
    });
    this.socket?.send(p.sent, this.port, upstream, (err) => {
      if (err) this.log.debug({ err, upstream }, 'dns: cannot send to forwarder');
    });
  }

  private onReply(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 12 || !(msg[2]! & 0x80)) return;
    const p = this.pending.get(msg.readUInt16BE(0));
    if (!p || rinfo.address !== this.upstreams[p.upstream] || rinfo.port !== this.port) {
      this.log.debug({ peer: `${rinfo.address}:${rinfo.port}`, reason: 'unexpected-upstream-reply' }, 'dns: forwarder reply dropped');
      return;
    }
    // The question must be ours, compared without case (RFC 4343); a truncated reply may omit it.
    const q = msg.subarray(12, 12 + p.question.length);
    if (msg.readUInt16BE(4) !== 0 && (q.length !== p.question.length || q.toString('latin1').toLowerCase() !== p.question.toString('latin1').toLowerCase())) {
      this.log.debug({ peer: `${rinfo.address}:${rinfo.port}`, reason: 'question-mismatch' }, 'dns: forwarder reply dropped');
      return;
    }
    p.timer.cancel();
    this.pending.delete(p.id);
    p.resolve(Buffer.from(msg));
  }
}
