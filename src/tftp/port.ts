/**
 * One transfer's port: its UDP socket(s), its {@link Transfer} state machine and its one timer.
 * The server runs it in its own thread (servers.tftp.workers: 0, and the fake-clock tests) or a
 * worker runs it (worker.ts): the same code either way. It decides nothing about who may read
 * what: the server has checked the request, resolved the file and negotiated the options; this
 * moves the bytes and says how it ended.
 *
 * - Two sockets share the transfer port (SO_REUSEADDR): one connected to the peer, which sends
 *   (no per-packet route and address lookup: 2-3x the throughput of sendto) and receives the
 *   peer's packets; one unconnected, which receives everything else, so that strangers get error
 *   5 (RFC 1350) instead of an ICMP port unreachable. Linux delivers a datagram to the socket that
 *   matches it best, so the peer's ACKs reach the connected one once it is connected.
 * - The connected socket hears the ICMP errors for its peer: the transfer ends `unreachable`.
 * - Backpressure: a burst is skipped while a window's worth is still queued in this process.
 * - Every `message` handler and the timer run inside the packet guard's boundary.
 */
import dgram from 'node:dgram';
import { closeUdp } from '../lib/bind.js';
import type { Clock, Timer } from '../lib/clock.js';
import { peerOf, unanswerable, type OwnSockets, type PacketGuard } from '../lib/guard.js';
import type { Logger } from '../lib/log.js';
import { hostPort } from '../lib/net.js';
import { NetasciiBlocks } from './netascii.js';
import { dataHeader, decodePacket, encodeError, Op, TftpErrorCode, TftpPacketError, type TftpPacket } from './packet.js';
import { Transfer, type Command, type Negotiated, type Outcome } from './transfer.js';

/** What a port needs to run one transfer (plain data: it crosses to a worker as a message). */
export interface PortSpec {
  /** `address:port` of the peer, for logs. */
  key: string;
  address: string;
  port: number;
  /** The address the request came to: the transfer port is bound there. */
  listen: string;
  v6: boolean;
  /** The relative file name, for logs. */
  file: string;
  netascii: boolean;
  /** Bytes transferred (netascii: after translation). */
  size: number;
  negotiated: Negotiated;
  retries: number;
  maxLifetimeMs: number;
}

/** How a port's transfer ended, as the server records it. */
export interface PortEnd {
  outcome: Outcome | 'unreachable';
  detail: string;
  retransmits: number;
}

export interface PortDeps {
  clock: Clock;
  log: Logger;
  guard: PacketGuard;
  own?: OwnSockets;
  /** [0, 1): spreads retransmission timers (transfer.ts). */
  random: () => number;
}

/** True (and counted, logged) when a datagram's source cannot be answered: drop it. */
export function dropUnanswerable(deps: Pick<PortDeps, 'guard' | 'log' | 'own'>, rinfo: dgram.RemoteInfo, bytes: number): boolean {
  const reason = unanswerable(rinfo.address, rinfo.port, deps.own);
  if (!reason) return false;
  deps.guard.drop('tftp', reason);
  deps.log.debug({ peer: peerOf(rinfo), bytes, reason }, 'tftp: datagram from a source that cannot be answered dropped');
  return true;
}

/**
 * Sends without ever throwing (a closed socket, a bad port): the failure is logged. Errors that
 * come later (ICMP unreachable) reach the socket's error listener.
 */
export function sendSafely(log: Logger, socket: dgram.Socket | undefined, msg: Buffer | Uint8Array[], to?: { address: string; port: number }): void {
  if (!socket) return;
  try {
    if (to) socket.send(msg, to.port, to.address);
    else socket.send(msg);
  } catch (err) {
    log.warn({ err, peer: to ? hostPort(to.address, to.port) : undefined }, 'tftp: send failed');
  }
}

export class TransferPort {
  /** The transfer port's unconnected socket (answers strangers). */
  private socket?: dgram.Socket;
  /** The same port, connected to the peer: sends everything to it. */
  private peer?: dgram.Socket;
  private readonly transfer: Transfer;
  private readonly netascii?: NetasciiBlocks;
  private timer?: Timer;
  private timerAt = Infinity;
  private deadline = Infinity;
  private ended = false;

  constructor(
    private readonly spec: PortSpec,
    /** The file as read (octet transfers send views of it). */
    private readonly body: Buffer,
    private readonly deps: PortDeps,
    /** Called once when the transfer ends by itself (not after {@link close}). */
    private readonly onEnd: (end: PortEnd) => void,
  ) {
    this.transfer = new Transfer(spec.size, spec.negotiated, spec.retries, spec.maxLifetimeMs, deps.random);
    if (spec.netascii) this.netascii = new NetasciiBlocks(body, spec.negotiated.blksize);
  }

  /** Retransmitted packets so far. */
  get retransmits(): number {
    return this.transfer.stats.retransmits;
  }

  /** Binds the port, connects it to the peer and sends the first packet. */
  async open(): Promise<void> {
    const { spec } = this;
    const socketOptions: dgram.SocketOptions = spec.v6 ? { type: 'udp6', reuseAddr: true, ipv6Only: true } : { type: 'udp4', reuseAddr: true };
    const socket = dgram.createSocket(socketOptions);
    this.socket = socket;
    const onMessage = this.deps.guard.boundary('tftp', this.deps.log, (_msg: Buffer, rinfo: dgram.RemoteInfo) => peerOf(rinfo), (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onPacket(msg, rinfo));
    socket.on('error', (err) => this.deps.log.warn({ err, peer: spec.key, file: spec.file }, 'tftp: transfer socket error'));
    socket.on('message', onMessage);
    await bindSocket(socket, spec.listen, 0);
    if (this.ended) return;
    const peer = dgram.createSocket(socketOptions);
    this.peer = peer;
    peer.on('error', (err: NodeJS.ErrnoException) => {
      // Nobody listens on the client's port (a client that gave up, a spoofed request), or its
      // host is gone: retransmitting for minutes would only hold a slot.
      if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') {
        this.finish({ outcome: 'unreachable', detail: `the client is unreachable (${err.code}: ICMP from the network)`, retransmits: this.retransmits });
        return;
      }
      this.deps.log.warn({ err, peer: spec.key, file: spec.file }, 'tftp: transfer socket error');
    });
    peer.on('message', onMessage);
    await bindSocket(peer, spec.listen, socket.address().port);
    if (this.ended) return;
    await new Promise<void>((resolve, reject) => {
      peer.once('error', reject);
      peer.connect(spec.port, spec.address, () => {
        peer.off('error', reject);
        resolve();
      });
    });
    if (this.ended) return;
    this.exec(this.transfer.start(this.deps.clock.now()));
  }

  /** Ends the transfer from outside (evicted, superseded, shutdown): `error` is sent to the peer first. */
  close(error?: Buffer): void {
    if (error && this.peer && !this.ended) sendSafely(this.deps.log, this.peer, error);
    this.ended = true;
    this.timer?.cancel();
    this.timer = undefined;
    void closeUdp(this.socket);
    void closeUdp(this.peer);
  }

  private finish(end: PortEnd): void {
    if (this.ended) return;
    this.close();
    this.onEnd(end);
  }

  private onPacket(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.ended) return;
    const { spec } = this;
    if (rinfo.address !== spec.address || rinfo.port !== spec.port) {
      if (dropUnanswerable(this.deps, rinfo, msg.length)) return;
      // RFC 1350: a packet from another TID gets error 5, and the transfer goes on untouched.
      this.deps.log.debug({ peer: hostPort(rinfo.address, rinfo.port), transfer: spec.key, bytes: msg.length }, 'tftp: packet from an unknown transfer ID');
      sendSafely(this.deps.log, this.socket, encodeError(TftpErrorCode.UNKNOWN_TID, 'Unknown transfer ID'), rinfo);
      return;
    }
    const now = this.deps.clock.now();
    // Fast path for the packet that makes up half the traffic: an ACK (RFC 1350, 4 bytes).
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === Op.ACK) {
      this.exec(this.transfer.handle({ type: 'ack', block: msg.readUInt16BE(2) }, now));
      return;
    }
    let packet: TftpPacket;
    try {
      packet = decodePacket(msg);
    } catch (err) {
      if (!(err instanceof TftpPacketError)) throw err;
      this.deps.log.debug({ peer: spec.key, bytes: msg.length, reason: err.code }, 'tftp: undecodable datagram on a transfer port dropped');
      return;
    }
    if (packet.op === Op.ACK) this.exec(this.transfer.handle({ type: 'ack', block: packet.block }, now));
    else if (packet.op === Op.ERROR) this.exec(this.transfer.handle({ type: 'error', code: packet.code, message: packet.message }, now));
    else this.deps.log.debug({ peer: spec.key, op: packet.op }, 'tftp: unexpected packet on a transfer port dropped');
  }

  private exec(commands: Command[]): void {
    for (const c of commands) {
      switch (c.type) {
        case 'send':
          sendSafely(this.deps.log, this.peer, c.packet);
          break;
        case 'data':
          this.sendBlocks(c.first, c.count);
          break;
        case 'arm':
          this.arm(c.ms);
          break;
        case 'done':
          this.finish({ outcome: c.outcome, detail: c.detail, retransmits: this.retransmits });
          break;
      }
    }
  }

  private sendBlocks(first: number, count: number): void {
    const { body, peer: socket } = this;
    const blksize = this.transfer.blksize;
    // Backpressure: when the kernel does not take datagrams as fast as they come (its send buffer
    // is full), Node queues them in this process. A flood of spoofed requests made 512 transfers
    // pile up 15,000 unsent blocks (tens of MB). So while a window's worth is still waiting, this
    // burst is skipped, as if lost: the retransmission timer sends it again later.
    const queued = socket?.getSendQueueSize() ?? 0;
    if (queued >= blksize * count) {
      this.deps.log.debug({ peer: this.spec.key, file: this.spec.file, queued, first, count }, 'tftp: send queue full, burst skipped (retransmitted on timeout)');
      return;
    }
    const translated = this.netascii?.blocks(first, count);
    for (let b = first; b < first + count; b++) {
      const off = (b - 1) * blksize;
      // Header from a shared table, payload a view of the (cached) file: no copy per block.
      sendSafely(this.deps.log, socket, [dataHeader(b), translated ? translated[b - first]! : body.subarray(off, Math.min(off + blksize, body.length))]);
    }
  }

  /**
   * One timer per transfer, re-armed lazily: an ACK only moves the deadline; the timer is
   * replaced only when the new deadline is earlier than the one it is set for.
   */
  private arm(ms: number): void {
    const now = this.deps.clock.now();
    this.deadline = now + ms;
    if (this.timer && this.timerAt <= this.deadline) return;
    this.timer?.cancel();
    this.schedule(ms);
  }

  private schedule(ms: number): void {
    this.timerAt = this.deps.clock.now() + ms;
    const fire = this.deps.guard.boundary('tftp', this.deps.log, () => this.spec.key, () => {
      this.timer = undefined;
      if (this.ended) return;
      const now = this.deps.clock.now();
      const left = this.deadline - now;
      if (left > 0) return this.schedule(left);
      this.exec(this.transfer.handle({ type: 'timeout' }, now));
    });
    this.timer = this.deps.clock.schedule(ms, fire);
  }
}

function bindSocket(socket: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address, port }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}
