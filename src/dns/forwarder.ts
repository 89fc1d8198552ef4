/**
 * Relays queries for names outside the zone to the configured forwarders, over UDP, for clients
 * that respond() allowed (managed subnets only). Upstreams are tried in order, each for
 * FORWARD_TIMEOUT_MS.
 *
 * Spoofing (RFC 5452): an off-path attacker who wants to plant an answer must guess everything
 * that identifies the query. So each attempt goes out with a fresh random ID from a fresh socket
 * (the kernel picks a random ephemeral port: about 16 + 15 bits to guess instead of 16 with one
 * fixed port), and a reply is accepted only when it comes from the upstream's address and port
 * to that socket, carries the ID, and repeats the question asked: one question, the same name
 * (ASCII case-insensitive, RFC 4343), type and class. A reply without the question (QDCOUNT 0)
 * is not accepted either. Sockets are closed when their query ends, so at most MAX_PENDING are
 * open at once.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import type { Clock, Timer } from '../lib/clock.js';
import { peerOf, processGuard, type PacketGuard } from '../lib/guard.js';
import type { Logger } from '../lib/log.js';
import { readQuestion, type Query } from './wire.js';

/** How long one upstream has to answer before the next is tried. */
const FORWARD_TIMEOUT_MS = 2000;
/** Queries in flight upstream at once (one socket each); beyond it, clients get SERVFAIL at once. */
const MAX_PENDING = 1024;
const DNS_PORT = 53;

/** One query on its way upstream: the current attempt's socket, ID and timer. */
interface Pending {
  query: Query;
  sent: Buffer;
  upstream: number;
  id: number;
  socket: dgram.Socket | undefined;
  timer: Timer | undefined;
  resolve: (reply: Buffer | null) => void;
}

/** Does the reply repeat the question of `q` (see the module comment)? */
export function sameQuestion(reply: Buffer, q: Pick<Query, 'key' | 'qtype' | 'qclass'>): boolean {
  if (reply.length < 12 || reply.readUInt16BE(4) !== 1) return false;
  const r = readQuestion(reply);
  return typeof r !== 'string' && r.key === q.key && r.qtype === q.qtype && r.qclass === q.qclass;
}

/** The queries in flight towards the forwarders, each on its own socket. */
export class Forwarder {
  private running = false;
  private readonly pending = new Set<Pending>();

  constructor(
    private readonly upstreams: readonly string[],
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly port = DNS_PORT,
    private readonly guard: PacketGuard = processGuard,
  ) {}

  /** Queries waiting for an upstream (one open socket each). */
  get inFlight(): number {
    return this.pending.size;
  }

  async start(): Promise<void> {
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const p of [...this.pending]) this.finish(p, null);
  }

  /**
   * The upstream answer to `msg` with the client's ID restored, or null when every upstream
   * timed out (or forwarding is saturated or stopped).
   */
  forward(msg: Buffer, q: Query): Promise<Buffer | null> {
    if (!this.running || this.upstreams.length === 0 || this.pending.size >= MAX_PENDING) return Promise.resolve(null);
    return new Promise((resolve) => {
      const p: Pending = {
        query: q,
        sent: Buffer.from(msg),
        upstream: 0,
        id: 0,
        socket: undefined,
        timer: undefined,
        resolve: (reply) => {
          if (reply) reply.writeUInt16BE(q.id, 0);
          resolve(reply);
        },
      };
      this.pending.add(p);
      this.attempt(p);
    });
  }

  /** Sends `p` to its current upstream from a new socket, with a new ID. */
  private attempt(p: Pending): void {
    this.closeSocket(p);
    const upstream = this.upstreams[p.upstream]!;
    p.id = randomInt(0, 0x10000);
    p.sent.writeUInt16BE(p.id, 0);
    const socket = dgram.createSocket('udp4');
    p.socket = socket;
    socket.on('message', this.guard.boundary('dns', this.log, (_m: Buffer, rinfo: dgram.RemoteInfo) => peerOf(rinfo), (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onReply(p, socket, msg, rinfo)));
    socket.on('error', (err) => this.log.debug({ err, upstream }, 'dns: forwarder socket error'));
    p.timer = this.clock.schedule(FORWARD_TIMEOUT_MS, () => {
      this.log.debug({ upstream, reason: 'timeout' }, 'dns: forwarder did not answer');
      p.upstream++;
      if (p.upstream < this.upstreams.length && this.running) this.attempt(p);
      else this.finish(p, null);
    });
    try {
      // Unbound: the send binds the socket to a random ephemeral port.
      socket.send(p.sent, this.port, upstream, (err) => {
        if (err) this.log.debug({ err, upstream }, 'dns: cannot send to forwarder');
      });
    } catch (err) {
      // The timer moves on to the next upstream.
      this.log.debug({ err, upstream }, 'dns: cannot send to forwarder');
    }
  }

  private onReply(p: Pending, socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // A datagram for an attempt already given up (its socket replaced) is not an answer.
    if (p.socket !== socket || !this.pending.has(p)) return;
    const drop = (reason: string) => {
      this.guard.drop('dns', `forwarder-${reason}`);
      this.log.debug({ peer: peerOf(rinfo), reason }, 'dns: forwarder reply dropped');
    };
    if (rinfo.address !== this.upstreams[p.upstream] || rinfo.port !== this.port) return drop('not-the-upstream');
    if (msg.length < 12 || !(msg[2]! & 0x80)) return drop('not-a-response');
    if (msg.readUInt16BE(0) !== p.id) return drop('id-mismatch');
    if (!sameQuestion(msg, p.query)) return drop('question-mismatch');
    this.finish(p, Buffer.from(msg));
  }

  private finish(p: Pending, reply: Buffer | null): void {
    if (!this.pending.delete(p)) return;
    this.closeSocket(p);
    p.resolve(reply);
  }

  private closeSocket(p: Pending): void {
    p.timer?.cancel();
    p.timer = undefined;
    const s = p.socket;
    p.socket = undefined;
    if (!s) return;
    try {
      s.close();
    } catch {
      // already closed (a send error can close it first)
    }
  }
}
