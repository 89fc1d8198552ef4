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
import type dgram from 'node:dgram';
import { availableParallelism } from 'node:os';
import type { Config } from '../config/load.js';
import { readableBy, type VirtualFile, type VirtualFiles } from '../boot/virtual.js';
import { newEvent, type TftpTransferData } from '../events/kinds.js';
import type { Inventory } from '../inventory/inventory.js';
import { storeTrace, type BootTrace } from '../inventory/trace.js';
import { bindUdp, closeUdp } from '../lib/bind.js';
import type { Clock } from '../lib/clock.js';
import { ownSockets, peerOf, processGuard, sendQueueFull, type OwnSockets, type PacketGuard } from '../lib/guard.js';
import { hostPort, listen6Of, plainAddress } from '../lib/net.js';
import type { Logger } from '../lib/log.js';
import type { Service } from '../lib/service.js';
import type { Store } from '../store/store.js';
import { BootFiles, checkRequestPath, type Refusal } from './files.js';
import { netasciiSizeOf } from './netascii.js';
import { decodePacket, encodeError, Op, TftpErrorCode, TftpPacketError, type TftpPacket } from './packet.js';
import { dropUnanswerable, sendSafely, TransferPort, type PortEnd, type PortSpec } from './port.js';
import { negotiate, type Negotiated, type Outcome, type TransferLimits } from './transfer.js';
import { TftpWorkers } from './workers.js';

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

/** A running transfer's port, in this thread (port.ts) or in a worker (workers.ts). */
interface PortHandle {
  close(error?: Buffer): void;
  readonly retransmits: number;
}

/** One transfer: what was asked and agreed, and its port once it has one. */
interface Session {
  id: number;
  key: string;
  address: string;
  port: number;
  request: RrqPacket;
  startedAt: number;
  /** Bytes transferred (netascii: translated), once resolved. */
  size?: number;
  negotiated?: Negotiated;
  /** The transfer port, once handed over. */
  transferPort?: PortHandle;
  file?: string;
  mac: string | null;
  virtual: boolean;
  cached: boolean;
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
  /** The transfer workers (servers.tftp.workers); none: transfers run in this thread. */
  private workers: TftpWorkers | undefined;
  /** Files at least this large go to the workers (servers.tftp.workerMinKb); smaller ones are sent from this thread. */
  private workerMinBytes = 0;
  /** Transfers handed to a worker, by id. */
  private readonly byId = new Map<number, Session>();
  private lastId = 0;

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
    const count = workerCount(t.workers);
    this.workerMinBytes = t.workerMinKb * 1024;
    // The workers start with the first transfer they get (workers.ts), not here.
    if (count > 0) {
      const workers = new TftpWorkers(count, this.log, this.own, this.guard, {
        end: (id, e) => {
          const session = this.byId.get(id);
          if (session) this.portEnded(session, e);
        },
        failed: (id, detail) => {
          const session = this.byId.get(id);
          if (!session || session.ended) return;
          this.log.error({ peer: session.key, file: session.file, detail }, 'tftp: transfer failed');
          this.reply(session.address, session.port, TftpErrorCode.NOT_DEFINED, 'internal error');
          this.end(session, 'internal-error', detail, false);
        },
      });
      this.workers = workers;
    }
  }

  async stop(): Promise<void> {
    for (const session of [...this.sessions.values()]) this.end(session, 'shutdown', 'server stopping', false);
    await this.closeSockets();
    const workers = this.workers;
    this.workers = undefined;
    await workers?.stop();
  }

  /** The transfer workers, for tests (one is ended to show that the server goes on); none with workers: 0. */
  get workerPool(): TftpWorkers | undefined {
    return this.workers;
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

  /** An error from the request port, shared by every client: bounded (see SEND_QUEUE_CAP). */
  private reply(address: string, port: number, code: number, message: string): void {
    const socket = this.requestSocket(address)?.socket;
    if (socket && sendQueueFull(socket)) return this.guard.drop('tftp', 'send-queue-full');
    sendSafely(this.log, socket, encodeError(code, message), { address, port });
  }

  private onRequest(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (dropUnanswerable({ guard: this.guard, log: this.log, own: this.own }, rinfo, msg.length)) return;
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
      id: ++this.lastId, key, address, port, request: req, startedAt: now, mac: hostByIp?.mac ?? null, virtual: false, cached: false,
      ended: false, pendingRestart: false,
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
    this.byId.delete(session.id);
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
    const error = encodeError(TftpErrorCode.NOT_DEFINED, message);
    if (!victim.transferPort) this.reply(victim.address, victim.port, TftpErrorCode.NOT_DEFINED, message);
    const held = this.byClient.get(victim.address)?.size ?? 0;
    this.log.warn({ peer: victim.key, file: victim.request.filename, held, newcomer, reason: 'evicted' }, 'tftp: all transfer slots taken: the oldest transfer of the biggest holder ended to admit another address');
    this.end(victim, 'evicted', `ended to admit ${newcomer}: ${victim.address} held ${held} of ${this.sessions.size} transfers`, false, undefined, error);
  }

  /** Resolves the file (virtual or on disk), then hands the transfer to its port. */
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
    session.size = size;
    session.negotiated = negotiated;
    session.file = resolved.rel;
    // The transfer port is of the request's address family, on the address it came to.
    const from = this.requestSocket(session.address);
    if (!from) throw new Error(`no request socket for the address family of ${session.address}`);
    const spec: PortSpec = {
      key: session.key, address: session.address, port: session.port, listen: from.listen, v6: from.v6, file: resolved.rel, netascii, size, negotiated,
      retries: this.limits.retries, maxLifetimeMs: this.limits.maxLifetimeMs ?? Infinity,
    };
    // A large file goes to a worker (the second core); a short one is sent from here, where it
    // starts without a hop between threads. With no worker left (none could start), every
    // transfer runs here: TFTP goes on serving.
    if (this.workers?.usable && size >= this.workerMinBytes) {
      const { workers } = this;
      const handle = { retransmits: 0, close: (error?: Buffer) => workers.close(session.id, error) };
      session.transferPort = handle;
      this.byId.set(session.id, session);
      workers.run(session.id, spec, resolved.data);
      return;
    }
    const deps = { clock: this.deps.clock, log: this.log, guard: this.guard, own: this.own, random: this.deps.random ?? Math.random };
    const port = new TransferPort(spec, resolved.data, deps, (e) => this.portEnded(session, e));
    session.transferPort = port;
    await port.open();
  }

  /** A port's transfer ended by itself: recorded, and a pending identical request restarted. */
  private portEnded(session: Session, e: PortEnd): void {
    this.end(session, e.outcome, e.detail, true, e.retransmits);
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

  /**
   * Ends a transfer: its port closed (after sending `error` to the peer, if given), its slot
   * released, its outcome recorded. `retransmits`: the port's count when it reported the end.
   */
  private end(session: Session, outcome: TransferOutcome, detail: string, restart: boolean, retransmits?: number, error?: Buffer): void {
    if (session.ended) return;
    session.ended = true;
    this.release(session);
    const port = session.transferPort;
    port?.close(error);
    const now = this.deps.clock.now();
    const n = session.negotiated;
    const fields = {
      peer: session.key, file: session.file ?? session.request.filename, mac: session.mac, outcome, reason: detail,
      size: session.size ?? null, blksize: n?.blksize ?? null, windowsize: n?.windowsize ?? null,
      retransmits: retransmits ?? port?.retransmits ?? 0, ms: now - session.startedAt,
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

/**
 * servers.tftp.workers, or its default: two with two cores or more, none with one (threads that
 * cannot run at once only add a hop). Measured on 2 cores (issue 26, lock-step, 20 and 100
 * clients): one worker is no faster than none (one thread still moves every block); two moved
 * 1.2-1.3x the bytes of none; four were no better than two and cost 8-12 MB of RSS each.
 */
export function workerCount(configured: number | undefined, cores = availableParallelism()): number {
  return configured ?? (cores > 1 ? 2 : 0);
}

/** The TFTP service for main.ts. */
export function createTftpServer(deps: TftpServerDeps): TftpServer {
  return new TftpServer(deps);
}
