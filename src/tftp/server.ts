/**
 * The TFTP server (read-only): the serve loop around the pure parts. Requests arrive on
 * servers.tftp.port; each transfer gets its own ephemeral UDP port (RFC 1350 TIDs; two sockets on
 * it, see open()), its own {@link Transfer} state machine and one timer. Only this file touches
 * sockets and timers.
 *
 * Robustness rules:
 * - Datagrams that do not decode (0 bytes, 1 byte, garbage) are logged at debug and dropped,
 *   on the request port and on transfer ports alike; nothing is sent back to them on the request
 *   port (no reflection of junk).
 * - A datagram to a transfer port from any other address or port gets error 5 (unknown transfer
 *   ID, RFC 1350) and changes nothing in the transfer.
 * - A transfer with no progress is abandoned after servers.tftp.retries retransmissions with
 *   back-off; its socket and timer are closed.
 * - Firmware tsize probe (Intel/PXE ROMs, iPXE): RRQ with tsize, our OACK, their error 8, then
 *   a new RRQ. The error ends the first transfer (outcome option-refused). The new RRQ may be
 *   handled before that error (two sockets, no ordering): a different RRQ from the same peer
 *   supersedes the old transfer; an identical one is a retransmission and is ignored, unless the
 *   old transfer then ends with an error from the client, in which case it is started right away.
 * - Every `message` handler (request port and transfer ports) and timer runs inside the packet
 *   guard's boundary (lib/guard.ts): whatever it throws is logged and counted, never the end of
 *   the process. Sources that cannot be answered (port 0, broadcast, multicast, our own request
 *   socket...) are dropped before any reply, counted and logged at debug. No send throws: a
 *   failed send is logged (a WRQ from port 0 made `send` throw and killed 3rc).
 * - Fair share of the transfer slots (512 abandoned RRQs from one address kept TFTP
 *   answering "busy" to everyone):
 *   - one client address holds at most servers.tftp.maxTransfersPerClient transfers (a PXE
 *     client runs one at a time); more get error 0 "server busy";
 *   - a transfer lasts at most servers.tftp.maxTransferTime, whatever timeout it negotiated;
 *   - when all servers.tftp.maxTransfers slots are taken, a new request is admitted by ending
 *     the oldest transfer of the address that holds the most, if that address holds at least two
 *     more than the newcomer's address (so shares converge to equal, and nobody is evicted to
 *     admit an address that already holds as many); else error 0 "server busy", logged;
 *   - a peer that never acknowledges anything gets one retransmission (see transfer.ts).
 * - Virtual files with a secret (the install entry and its token) go only to their owner's
 *   reserved IP or IPv6 address; anyone else gets "file not found", logged and traced (see
 *   boot/virtual.ts readableBy).
 * - IPv6: with network.ipv6 (or servers.tftp.listen6) a second request socket listens on `::`
 *   (IPv6 only); a transfer's port is of its request's address family.
 * - Sockets bound to 0.0.0.0 answer from the address the kernel picks for the peer; on a
 *   multi-homed server set servers.tftp.listen to the address clients use.
 */
import dgram from 'node:dgram';
import type { Config } from '../config/load.js';
import { readableBy, type VirtualFile, type VirtualFiles } from '../boot/virtual.js';
import { newEvent, type TftpTransferData } from '../events/kinds.js';
import type { Inventory } from '../inventory/inventory.js';
import { storeTrace, type BootTrace } from '../inventory/trace.js';
import { bindUdp, closeUdp } from '../lib/bind.js';
import type { Clock, Timer } from '../lib/clock.js';
import { ownSockets, peerOf, processGuard, sendQueueFull, unanswerable, type OwnSockets, type PacketGuard } from '../lib/guard.js';
import { hostPort, listen6Of, plainAddress } from '../lib/net.js';
import type { Logger } from '../lib/log.js';
import type { Service } from '../lib/service.js';
import type { Store } from '../store/store.js';
import { BootFiles, checkRequestPath, type Refusal } from './files.js';
import { NetasciiBlocks, netasciiSizeOf } from './netascii.js';
import { dataHeader, decodePacket, encodeError, Op, TftpErrorCode, TftpPacketError, type TftpPacket } from './packet.js';
import { negotiate, Transfer, type Command, type Outcome, type TransferLimits } from './transfer.js';

export interface TftpServerDeps {
  config: Pick<Config, 'servers' | 'paths' | 'network'>;
  inventory: Pick<Inventory, 'hostByIp' | 'hostByMac'>;
  /**
   * The generated files (pxelinux.cfg/01-<mac>, default), asked for by name: the booter's answer
   * in the loader's syntax (render/pxelinux.ts pxelinuxFiles in main.ts).
   */
  virtualFiles: VirtualFiles;
  /** Where every transfer is recorded; default: the store's event log via storeTrace. */
  trace?: BootTrace;
  /** Used for the default trace. */
  store?: Store;
  clock: Clock;
  log: Logger;
  /** Counts dropped sources and handler failures; default: the process's (exposed in /metrics). */
  guard?: PacketGuard;
  /** [0, 1): spreads retransmission timers (transfer.ts; default Math.random; tests give a fixed one). */
  random?: () => number;
}

type RrqPacket = Extract<TftpPacket, { filename: string }>;

/**
 * How a transfer ended: the machine's outcomes, plus superseded (a different RRQ from the same
 * port replaced it), evicted (ended to give its slot to another address), shutdown (3rc
 * stopping) and internal-error.
 */
export type TransferOutcome = Outcome | 'superseded' | 'evicted' | 'unreachable' | 'shutdown' | 'internal-error';

/** A refusal, with how it is traced when that is not the default for its code. */
type Denial = Refusal & { outcome?: 'refused'; message?: string; owner?: string | null };

/** Shortest retransmission timeout used, whatever the config says (0 would spin). */
const MIN_TIMEOUT_MS = 20;

/** One transfer: its socket, state machine and timer. */
interface Session {
  key: string;
  address: string;
  port: number;
  request: RrqPacket;
  startedAt: number;
  /** The transfer port's unconnected socket (answers strangers). */
  socket?: dgram.Socket;
  /** The same port, connected to the peer: sends everything to it. */
  peer?: dgram.Socket;
  transfer?: Transfer;
  /** The file as read (octet transfers send views of it). */
  body?: Buffer;
  /** netascii transfers: the translation, block by block. */
  netascii?: NetasciiBlocks;
  file?: string;
  mac: string | null;
  virtual: boolean;
  cached: boolean;
  timer?: Timer;
  timerAt: number;
  deadline: number;
  ended: boolean;
  /** An identical RRQ arrived while this one ran (see the tsize-probe rule above). */
  pendingRestart: boolean;
}

function sameRequest(a: RrqPacket, b: RrqPacket): boolean {
  return a.filename === b.filename && a.mode.toLowerCase() === b.mode.toLowerCase() && JSON.stringify(a.options) === JSON.stringify(b.options);
}

export class TftpServer implements Service {
  readonly name = 'tftp';
  /** The request sockets: servers.tftp.listen (IPv4) and, with IPv6, listen6 (see listen6Of). */
  private sockets: { socket: dgram.Socket; listen: string; v6: boolean }[] = [];
  private readonly sessions = new Map<string, Session>();
  /** Client address -> its sessions, oldest first. */
  private readonly byClient = new Map<string, Set<Session>>();
  private readonly guard: PacketGuard;
  private own: OwnSockets | undefined;
  private readonly files: BootFiles;
  private readonly limits: TransferLimits;
  private readonly trace: BootTrace;
  private readonly log: Logger;

  constructor(private readonly deps: TftpServerDeps) {
    const t = deps.config.servers.tftp;
    this.log = deps.log.child({ server: 'tftp' });
    this.guard = deps.guard ?? processGuard;
    this.files = new BootFiles(deps.config.paths.boot, t.cacheMb * 1024 * 1024);
    this.limits = {
      maxBlksize: t.maxBlksize, maxWindowsize: t.maxWindowsize, timeoutMs: Math.max(MIN_TIMEOUT_MS, t.timeout), retries: t.retries, maxLifetimeMs: t.maxTransferTime,
    };
    if (deps.trace) this.trace = deps.trace;
    else if (deps.store) this.trace = storeTrace(deps.store, this.log);
    else throw new Error('createTftpServer needs a trace or a store');
  }

  /** Transfers in progress (including requests still being resolved). */
  get active(): number {
    return this.sessions.size;
  }

  async start(): Promise<void> {
    const t = this.deps.config.servers.tftp;
    const v6 = listen6Of(t, this.deps.config.network);
    try {
      for (const listen of [t.listen, ...(v6 ? [v6] : [])]) {
        const socket = await bindUdp({ name: 'tftp', address: listen, port: t.port });
        socket.on('message', this.guarded((msg, rinfo) => this.onRequest(msg, rinfo)));
        socket.on('error', (err) => this.log.warn({ err, listen }, 'tftp: socket error'));
        this.sockets.push({ socket, listen, v6: listen.includes(':') });
      }
    } catch (err) {
      await this.closeSockets();
      throw err;
    }
    this.own = ownSockets(this.sockets.map((s) => s.socket.address().port));
  }

  async stop(): Promise<void> {
    for (const session of [...this.sessions.values()]) this.end(session, 'shutdown', 'server stopping', false);
    await this.closeSockets();
  }

  private async closeSockets(): Promise<void> {
    const all = this.sockets;
    this.sockets = [];
    await Promise.all(all.map((s) => closeUdp(s.socket)));
  }

  addresses(): string[] {
    return this.sockets.map(({ socket }) => {
      const a = socket.address();
      return `${hostPort(a.address, a.port)}/udp`;
    });
  }

  /** The request socket of a peer's address family (an IPv6 peer has a `:` in its address). */
  private requestSocket(address: string): { socket: dgram.Socket; listen: string; v6: boolean } | undefined {
    const v6 = address.includes(':');
    return this.sockets.find((s) => s.v6 === v6);
  }

  /** A `message` handler inside the guard's boundary. */
  private guarded(fn: (msg: Buffer, rinfo: dgram.RemoteInfo) => void): (msg: Buffer, rinfo: dgram.RemoteInfo) => void {
    return this.guard.boundary('tftp', this.log, (_msg: Buffer, rinfo: dgram.RemoteInfo) => peerOf(rinfo), fn);
  }

  /** True (and counted, logged) when a datagram's source cannot be answered: drop it. */
  private unanswerable(rinfo: dgram.RemoteInfo, bytes: number): boolean {
    const reason = unanswerable(rinfo.address, rinfo.port, this.own);
    if (!reason) return false;
    this.guard.drop('tftp', reason);
    this.log.debug({ peer: peerOf(rinfo), bytes, reason }, 'tftp: datagram from a source that cannot be answered dropped');
    return true;
  }

  /**
   * Sends without ever throwing (a closed socket, a bad port): the failure is logged. Errors that
   * come later (ICMP unreachable) reach the socket's error listener.
   */
  private send(socket: dgram.Socket | undefined, msg: Buffer | Uint8Array[], to?: { address: string; port: number }): void {
    if (!socket) return;
    try {
      if (to) socket.send(msg, to.port, to.address);
      else socket.send(msg);
    } catch (err) {
      this.log.warn({ err, peer: to ? hostPort(to.address, to.port) : undefined }, 'tftp: send failed');
    }
  }

  /** An error from the request port, shared by every client: bounded (see SEND_QUEUE_CAP). */
  private reply(address: string, port: number, code: number, message: string): void {
    const socket = this.requestSocket(address)?.socket;
    if (socket && sendQueueFull(socket)) return this.guard.drop('tftp', 'send-queue-full');
    this.send(socket, encodeError(code, message), { address, port });
  }

  private onRequest(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.unanswerable(rinfo, msg.length)) return;
    const peer = hostPort(rinfo.address, rinfo.port);
    let packet: TftpPacket;
    try {
      packet = decodePacket(msg);
    } catch (err) {
      if (!(err instanceof TftpPacketError)) throw err;
      this.log.debug({ peer, bytes: msg.length, reason: err.code }, 'tftp: undecodable datagram dropped');
      return;
    }
    if (packet.op === Op.WRQ) {
      this.log.info({ peer, file: packet.filename, reason: 'read-only' }, 'tftp: write request refused');
      this.reply(rinfo.address, rinfo.port, TftpErrorCode.ACCESS_VIOLATION, 'write requests are refused: this TFTP server is read-only');
      return;
    }
    if (packet.op !== Op.RRQ) {
      this.log.debug({ peer, op: packet.op }, 'tftp: non-request packet on the request port dropped');
      return;
    }
    this.startRequest(packet, rinfo.address, rinfo.port);
  }

  private startRequest(req: RrqPacket, address: string, port: number): void {
    const key = hostPort(address, port);
    const existing = this.sessions.get(key);
    if (existing) {
      if (sameRequest(existing.request, req)) {
        // A retransmitted RRQ: the running transfer retransmits on its own.
        existing.pendingRestart = true;
        this.log.debug({ peer: key, file: req.filename }, 'tftp: duplicate request ignored');
        return;
      }
      this.end(existing, 'superseded', 'a different request from the same port replaced it', false);
    }
    const t = this.deps.config.servers.tftp;
    const mode = req.mode.toLowerCase();
    const now = this.deps.clock.now();
    const hostByIp = this.deps.inventory.hostByIp(plainAddress(address));
    const busy = (reason: string, active: number, max: number, setting: string) => {
      this.log.warn({ peer: key, file: req.filename, active, max, reason }, 'tftp: too many transfers, request refused');
      this.reply(address, port, TftpErrorCode.NOT_DEFINED, `server busy: ${active} transfers in progress${reason === 'busy' ? '' : ' from your address'} (servers.tftp.${setting}), try again`);
      this.record(now, { file: req.filename, mac: hostByIp?.mac ?? null, peer: key, outcome: 'busy', reason });
    };
    const mine = this.byClient.get(address)?.size ?? 0;
    if (mine >= t.maxTransfersPerClient) return busy('per-client-limit', mine, t.maxTransfersPerClient, 'maxTransfersPerClient');
    if (this.sessions.size >= t.maxTransfers) {
      const victim = this.evictionCandidate(mine);
      if (!victim) return busy('busy', this.sessions.size, t.maxTransfers, 'maxTransfers');
      this.evict(victim, key);
    }
    if (mode !== 'octet' && mode !== 'netascii') {
      this.reply(address, port, TftpErrorCode.ILLEGAL_OPERATION, `unsupported transfer mode ${JSON.stringify(req.mode)} (octet or netascii)`);
      this.log.info({ peer: key, file: req.filename, mode: req.mode, reason: 'bad-mode' }, 'tftp: request refused');
      return;
    }
    const session: Session = {
      key, address, port, request: req, startedAt: now, mac: hostByIp?.mac ?? null, virtual: false, cached: false,
      timerAt: Infinity, deadline: Infinity, ended: false, pendingRestart: false,
    };
    this.admit(session);
    void this.open(session).catch((err: unknown) => {
      this.log.error({ err, peer: key, file: req.filename }, 'tftp: transfer failed');
      if (!session.ended) {
        this.reply(address, port, TftpErrorCode.NOT_DEFINED, 'internal error');
        this.end(session, 'internal-error', 'internal error', true);
      }
    });
  }

  private admit(session: Session): void {
    this.sessions.set(session.key, session);
    let mine = this.byClient.get(session.address);
    if (!mine) this.byClient.set(session.address, (mine = new Set()));
    mine.add(session);
  }

  private release(session: Session): void {
    if (this.sessions.get(session.key) === session) this.sessions.delete(session.key);
    const mine = this.byClient.get(session.address);
    if (mine?.delete(session) && mine.size === 0) this.byClient.delete(session.address);
  }

  /**
   * All slots taken, a request from an address holding `mine` transfers: the oldest transfer of
   * the address holding the most, if it holds at least two more (max-min fairness), else null.
   */
  private evictionCandidate(mine: number): Session | undefined {
    let biggest: Set<Session> | undefined;
    for (const s of this.byClient.values()) if (!biggest || s.size > biggest.size) biggest = s;
    if (!biggest || biggest.size < mine + 2) return undefined;
    return biggest.values().next().value;
  }

  private evict(victim: Session, newcomer: string): void {
    const message = 'server busy: transfer ended to give its slot to another client (servers.tftp.maxTransfers), try again';
    // A transfer that has started talks from its own port; one still being resolved has not.
    if (victim.transfer) this.send(victim.peer, encodeError(TftpErrorCode.NOT_DEFINED, message));
    else this.reply(victim.address, victim.port, TftpErrorCode.NOT_DEFINED, message);
    const held = this.byClient.get(victim.address)?.size ?? 0;
    this.log.warn({ peer: victim.key, file: victim.request.filename, held, newcomer, reason: 'evicted' }, 'tftp: all transfer slots taken: the oldest transfer of the biggest holder ended to admit another address');
    this.end(victim, 'evicted', `ended to admit ${newcomer}: ${victim.address} held ${held} of ${this.sessions.size} transfers`, false);
  }

  /** Resolves the file (virtual or on disk), then opens the transfer socket and starts. */
  private async open(session: Session): Promise<void> {
    const req = session.request;
    const resolved = await this.resolve(req.filename, session);
    if (session.ended) return;
    if ('ok' in resolved) {
      this.refuse(session, resolved);
      return;
    }
    const netascii = req.mode.toLowerCase() === 'netascii';
    // netascii: translated block by block, never copied; its size is counted without a long
    // synchronous loop and cached per file (netascii.ts).
    const size = netascii ? await netasciiSizeOf(resolved.data) : resolved.data.length;
    if (session.ended) return;
    const negotiated = negotiate(req.options, size, this.limits);
    session.body = resolved.data;
    if (netascii) session.netascii = new NetasciiBlocks(resolved.data, negotiated.blksize);
    session.file = resolved.rel;
    session.transfer = new Transfer(size, negotiated, this.limits.retries, this.limits.maxLifetimeMs, this.deps.random ?? Math.random);
    // Two sockets share the transfer port (SO_REUSEADDR): one connected to the peer, which sends
    // (no per-packet route and address lookup: 2-3x the throughput of sendto) and receives the
    // peer's packets; one unconnected, which receives everything else, so that strangers get
    // error 5 (RFC 1350) instead of an ICMP port unreachable. Linux delivers a datagram to the
    // socket that matches it best, so the peer's ACKs reach the connected one once it is connected.
    // The transfer port is of the request's address family, on the address it came to.
    const from = this.requestSocket(session.address);
    if (!from) throw new Error(`no request socket for the address family of ${session.address}`);
    const { listen, v6 } = from;
    const socketOptions: dgram.SocketOptions = v6 ? { type: 'udp6', reuseAddr: true, ipv6Only: true } : { type: 'udp4', reuseAddr: true };
    const socket = dgram.createSocket(socketOptions);
    session.socket = socket;
    const onMessage = this.guarded((msg, rinfo) => this.onTransferPacket(session, msg, rinfo));
    socket.on('error', (err) => this.log.warn({ err, peer: session.key, file: session.file }, 'tftp: transfer socket error'));
    socket.on('message', onMessage);
    await bindSocket(socket, listen, 0);
    if (session.ended) return;
    const peer = dgram.createSocket(socketOptions);
    session.peer = peer;
    peer.on('error', (err: NodeJS.ErrnoException) => {
      // The connected socket hears the ICMP errors for its peer: nobody listens on the client's
      // port (a client that gave up, a spoofed request), or its host is gone. Retransmitting for
      // minutes would only hold a slot (and one of the address's maxTransfersPerClient).
      if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') {
        if (!session.ended) this.end(session, 'unreachable', `the client is unreachable (${err.code}: ICMP from the network)`, false);
        return;
      }
      this.log.warn({ err, peer: session.key, file: session.file }, 'tftp: transfer socket error');
    });
    peer.on('message', onMessage);
    await bindSocket(peer, listen, socket.address().port);
    if (session.ended) return;
    await new Promise<void>((resolve, reject) => {
      peer.once('error', reject);
      peer.connect(session.port, session.address, () => {
        peer.off('error', reject);
        resolve();
      });
    });
    if (session.ended) return;
    this.exec(session, session.transfer.start(this.deps.clock.now()));
  }

  private async resolve(filename: string, session: Session): Promise<{ rel: string; data: Buffer } | Denial> {
    const checked = checkRequestPath(filename);
    if (!checked.ok) return checked;
    const generated = this.deps.virtualFiles.generated(checked.rel, session.address);
    if (generated) return this.virtual(checked.rel, generated, session);
    const file = await this.files.openRel(checked.rel);
    if ('ok' in file && file.code === TftpErrorCode.FILE_NOT_FOUND) {
      const fallback = this.deps.virtualFiles.fallback(checked.rel, session.address);
      if (fallback) return this.virtual(checked.rel, fallback, session);
    }
    if (!('ok' in file)) session.cached = file.cached;
    return file;
  }

  /** Every generated file goes through here: one owner check for all of them. */
  private virtual(rel: string, v: VirtualFile, session: Session): { rel: string; data: Buffer } | Denial {
    session.mac = v.mac ?? session.mac;
    session.virtual = true;
    if (!readableBy(v, session.address)) {
      // Not found, as for a name we do not know: the asker learns nothing, pxelinux moves on.
      return {
        ok: false, code: TftpErrorCode.FILE_NOT_FOUND, reason: 'not-owner', outcome: 'refused', owner: v.ownerIp,
        message: 'tftp: a file holding a secret (the install token) asked for from another address than its host\'s: refused (served only to the host\'s reserved IP)',
      };
    }
    if (v.note) this.log.warn({ mac: v.mac, file: rel, reason: v.note }, 'tftp: install entry unavailable');
    return { rel, data: Buffer.from(v.content, 'utf8') };
  }

  private refuse(session: Session, r: Denial): void {
    const message = r.code === TftpErrorCode.FILE_NOT_FOUND ? 'File not found' : `Access violation (${r.reason})`;
    const outcome = r.outcome ?? (r.code === TftpErrorCode.FILE_NOT_FOUND ? 'not-found' : 'refused');
    // Not-found is routine (pxelinux's search order), refusals are worth an operator's look.
    const level = outcome === 'not-found' ? 'debug' : 'warn';
    const owner = r.owner === undefined ? {} : { owner: r.owner };
    this.log[level]({ peer: session.key, file: session.request.filename, mac: session.mac, reason: r.reason, tftpError: r.code, ...owner }, r.message ?? 'tftp: request refused');
    this.reply(session.address, session.port, r.code, message);
    session.ended = true;
    this.release(session);
    this.record(this.deps.clock.now(), { file: session.request.filename, mac: session.mac, peer: session.key, outcome, reason: r.reason });
  }

  private onTransferPacket(session: Session, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (session.ended) return;
    if (rinfo.address !== session.address || rinfo.port !== session.port) {
      if (this.unanswerable(rinfo, msg.length)) return;
      // RFC 1350: a packet from another TID gets error 5, and the transfer goes on untouched.
      this.log.debug({ peer: hostPort(rinfo.address, rinfo.port), transfer: session.key, bytes: msg.length }, 'tftp: packet from an unknown transfer ID');
      this.send(session.socket, encodeError(TftpErrorCode.UNKNOWN_TID, 'Unknown transfer ID'), rinfo);
      return;
    }
    const now = this.deps.clock.now();
    // Fast path for the packet that makes up half the traffic: an ACK (RFC 1350, 4 bytes).
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === Op.ACK) {
      this.exec(session, session.transfer!.handle({ type: 'ack', block: msg.readUInt16BE(2) }, now));
      return;
    }
    let packet: TftpPacket;
    try {
      packet = decodePacket(msg);
    } catch (err) {
      if (!(err instanceof TftpPacketError)) throw err;
      this.log.debug({ peer: session.key, bytes: msg.length, reason: err.code }, 'tftp: undecodable datagram on a transfer port dropped');
      return;
    }
    if (packet.op === Op.ACK) this.exec(session, session.transfer!.handle({ type: 'ack', block: packet.block }, now));
    else if (packet.op === Op.ERROR) this.exec(session, session.transfer!.handle({ type: 'error', code: packet.code, message: packet.message }, now));
    else this.log.debug({ peer: session.key, op: packet.op }, 'tftp: unexpected packet on a transfer port dropped');
  }

  private exec(session: Session, commands: Command[]): void {
    for (const c of commands) {
      switch (c.type) {
        case 'send':
          this.send(session.peer, c.packet);
          break;
        case 'data':
          this.sendBlocks(session, c.first, c.count);
          break;
        case 'arm':
          this.arm(session, c.ms);
          break;
        case 'done':
          this.end(session, c.outcome, c.detail, true);
          break;
      }
    }
  }

  private sendBlocks(session: Session, first: number, count: number): void {
    const body = session.body!;
    const socket = session.peer;
    const blksize = session.transfer!.blksize;
    // Backpressure: when the kernel does not take datagrams as fast as they come (its send buffer
    // is full), Node queues them in this process. A flood of spoofed requests made 512 transfers
    // pile up 15,000 unsent blocks (tens of MB). So while a window's worth is still waiting, this
    // burst is skipped, as if lost: the retransmission timer sends it again later.
    const queued = socket?.getSendQueueSize() ?? 0;
    if (queued >= blksize * count) {
      this.log.debug({ peer: session.key, file: session.file, queued, first, count }, 'tftp: send queue full, burst skipped (retransmitted on timeout)');
      return;
    }
    const translated = session.netascii?.blocks(first, count);
    for (let b = first; b < first + count; b++) {
      const off = (b - 1) * blksize;
      // Header from a shared table, payload a view of the (cached) file: no copy per block.
      this.send(socket, [dataHeader(b), translated ? translated[b - first]! : body.subarray(off, Math.min(off + blksize, body.length))]);
    }
  }

  /**
   * One timer per transfer, re-armed lazily: an ACK only moves the deadline; the timer is
   * replaced only when the new deadline is earlier than the one it is set for.
   */
  private arm(session: Session, ms: number): void {
    const now = this.deps.clock.now();
    session.deadline = now + ms;
    if (session.timer && session.timerAt <= session.deadline) return;
    session.timer?.cancel();
    this.schedule(session, ms);
  }

  private schedule(session: Session, ms: number): void {
    session.timerAt = this.deps.clock.now() + ms;
    const fire = this.guard.boundary('tftp', this.log, () => session.key, () => {
      session.timer = undefined;
      if (session.ended) return;
      const now = this.deps.clock.now();
      const left = session.deadline - now;
      if (left > 0) return this.schedule(session, left);
      this.exec(session, session.transfer!.handle({ type: 'timeout' }, now));
    });
    session.timer = this.deps.clock.schedule(ms, fire);
  }

  private end(session: Session, outcome: TransferOutcome, detail: string, restart: boolean): void {
    if (session.ended) return;
    session.ended = true;
    session.timer?.cancel();
    session.timer = undefined;
    this.release(session);

    void closeUdp(session.socket);
    void closeUdp(session.peer);
    const now = this.deps.clock.now();
    const tr = session.transfer;
    const fields = {
      peer: session.key, file: session.file ?? session.request.filename, mac: session.mac, outcome, reason: detail,
      size: tr?.size ?? null, blksize: tr?.blksize ?? null, windowsize: tr?.windowsize ?? null,
      retransmits: tr?.stats.retransmits ?? 0, ms: now - session.startedAt,
    };
    if (outcome === 'complete') this.log.info(fields, 'tftp: transfer complete');
    else this.log.info(fields, 'tftp: transfer ended');
    this.record(now, {
      file: fields.file, mac: session.mac, peer: session.key, outcome, reason: detail,
      size: fields.size, blksize: fields.blksize, windowsize: fields.windowsize, mode: session.request.mode.toLowerCase(),
      virtual: session.virtual, cached: session.cached, retransmits: fields.retransmits, ms: fields.ms,
    });
    if (restart && session.pendingRestart && (outcome === 'option-refused' || outcome === 'client-error')) {
      this.startRequest(session.request, session.address, session.port);
    }
  }

  private record(now: number, data: TftpTransferData): void {
    const host = data.mac ? this.deps.inventory.hostByMac(data.mac) : undefined;
    this.trace.record(newEvent('tftp.transfer', { at: now, mac: data.mac, host: host?.name ?? null, reason: data.outcome }, data));
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

/** The TFTP service for main.ts. */
export function createTftpServer(deps: TftpServerDeps): TftpServer {
  return new TftpServer(deps);
}
