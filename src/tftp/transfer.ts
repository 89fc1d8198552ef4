/**
 * One read transfer's state machine. Pure: events in (ack, timeout, error), commands out (send a
 * packet, send DATA blocks, arm the timer, done). No socket, no timer, no clock of its own: the
 * server feeds it `now` and carries out the commands, so every retransmission rule is tested with
 * a fake clock.
 *
 * - RFC 1350 lock-step, or RFC 7440 windows: the sender sends `windowsize` blocks, the receiver
 *   ACKs the last block it got in order; an ACK short of the window's end means the rest was lost,
 *   so the next window starts right after the ACKed block.
 * - Block numbers are 16 bits on the wire; the machine counts blocks in absolute numbers and maps
 *   an ACK to the only absolute block inside the outstanding window with that low half, so a file
 *   of more than 65535 blocks rolls over 65535 -> 0 (what tftp-hpa, curl and iPXE expect).
 * - Retransmission only on our own timeout, with back-off and a bounded number of retries.
 * - Sorcerer's apprentice (RFC 1123 4.2.3.1): a duplicate ACK never triggers a resend when it
 *   arrives soon after we sent (it is the echo of a duplicated DATA). One that arrives late (the
 *   client timed out waiting) triggers at most one resend per window position.
 * - A peer that has never acknowledged anything (no ACK 0 for our OACK, no ACK for DATA 1) gets
 *   one retransmission, then the transfer is abandoned: the request may have been spoofed, and
 *   a forged source must not receive our first packet over and over.
 * - A transfer lives at most `maxLifetimeMs` from its start, however it progresses and whatever
 *   timeout the client negotiated (RFC 2349 allows 255 s, which with back-off kept an abandoned
 *   transfer alive for over an hour): the timer is never armed past that end, and the first
 *   event at or after it ends the transfer as `expired`.
 */
import { encodeOack, Op, TftpErrorCode, type TftpOptions } from './packet.js';

/** Server-side limits (from servers.tftp). */
export interface TransferLimits {
  maxBlksize: number;
  maxWindowsize: number;
  /** Base retransmission timeout in ms, unless the client negotiates one (RFC 2349). */
  timeoutMs: number;
  /** Retransmissions of one window (or OACK) before the transfer is abandoned. */
  retries: number;
  /** Longest a transfer may last from its start, in ms. Default: no limit. */
  maxLifetimeMs?: number;
}

/** What was agreed for one transfer. */
export interface Negotiated {
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  /** Options to acknowledge in an OACK, in the client's order and spelling; null: no OACK. */
  oack: TftpOptions | null;
}

/** Back-off never waits longer than this multiple of the base timeout. */
export const MAX_BACKOFF_FACTOR = 4;

function parseUint(v: string): number | null {
  return /^[0-9]{1,10}$/.test(v) ? Number(v) : null;
}

/**
 * RFC 2347 option negotiation for a read request of `size` bytes (as transferred: netascii
 * size for netascii). Option names are case-insensitive; the OACK echoes the client's spelling.
 * Unknown options and unacceptable values are left out of the OACK (RFC 2347: the server
 * omits what it does not accept); the first occurrence of a repeated option wins.
 */
export function negotiate(options: TftpOptions, size: number, limits: TransferLimits): Negotiated {
  const out: Negotiated = { blksize: 512, windowsize: 1, timeoutMs: limits.timeoutMs, oack: null };
  const acked: TftpOptions = [];
  const seen = new Set<string>();
  for (const [name, value] of options) {
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const n = parseUint(value.trim());
    switch (key) {
      case 'blksize': // RFC 2348: 8..65464; we grant at most maxBlksize (fits the MTU).
        if (n === null || n < 8) break;
        out.blksize = Math.min(n, limits.maxBlksize, 65464);
        acked.push([name, String(out.blksize)]);
        break;
      case 'tsize': // RFC 2349: the client sends 0 in a RRQ, we answer the size.
        if (n === null) break;
        acked.push([name, String(size)]);
        break;
      case 'timeout': // RFC 2349: 1..255 s, accepted as is or not at all.
        if (n === null || n < 1 || n > 255) break;
        out.timeoutMs = n * 1000;
        acked.push([name, String(n)]);
        break;
      case 'windowsize': // RFC 7440: 1..65535; we grant at most maxWindowsize.
        if (n === null || n < 1 || n > 65535) break;
        out.windowsize = Math.min(n, limits.maxWindowsize);
        acked.push([name, String(out.windowsize)]);
        break;
      default:
        break; // unknown options are ignored (RFC 2347)
    }
  }
  if (acked.length > 0) out.oack = acked;
  return out;
}

export type Outcome = 'complete' | 'timeout' | 'expired' | 'option-refused' | 'client-error';

export type Command =
  /** Send this datagram to the peer (OACK). */
  | { type: 'send'; packet: Buffer }
  /** Send DATA blocks first..first+count-1 (absolute numbers, starting at 1). */
  | { type: 'data'; first: number; count: number }
  /** (Re)arm the transfer's single timer; a timeout event is due after ms. */
  | { type: 'arm'; ms: number }
  /** The transfer is over; close its socket. */
  | { type: 'done'; outcome: Outcome; detail: string };

export type TransferEvent =
  | { type: 'ack'; block: number }
  | { type: 'timeout' }
  | { type: 'error'; code: number; message: string };

export interface TransferStats {
  /** DATA packets sent, retransmissions included. */
  packets: number;
  /** Retransmitted DATA/OACK packets. */
  retransmits: number;
  /** ACKs that were duplicates or outside the window (ignored or answered once). */
  ignoredAcks: number;
}

/**
 * One read transfer of `size` bytes. Call {@link start} once, then {@link handle} for every event;
 * both return the commands to carry out in order. After a `done` command every event returns [].
 */
export class Transfer {
  readonly blksize: number;
  readonly windowsize: number;
  /** Number of DATA blocks: the last one is short (possibly empty, RFC 1350). */
  readonly blocks: number;
  readonly stats: TransferStats = { packets: 0, retransmits: 0, ignoredAcks: 0 };
  private phase: 'new' | 'oack' | 'data' | 'done' = 'new';
  /** Highest block acknowledged (absolute). */
  private acked = 0;
  /** Highest block sent in the current window (absolute). */
  private sentUpTo = 0;
  private retries = 0;
  private lastSendAt = 0;
  private dupResent = false;
  /** The peer acknowledged something (any ACK): it exists and receives what we send. */
  private heard = false;
  private startedAt = 0;
  private readonly oack: Buffer | null;
  private readonly timeoutMs: number;

  constructor(
    readonly size: number,
    readonly negotiated: Negotiated,
    private readonly maxRetries: number,
    private readonly maxLifetimeMs = Infinity,
    /** [0, 1) at random: each timeout is up to a quarter longer (see arm). Default: none. */
    private readonly random: () => number = () => 0,
  ) {
    this.blksize = negotiated.blksize;
    this.windowsize = negotiated.windowsize;
    this.timeoutMs = negotiated.timeoutMs;
    this.blocks = Math.floor(size / this.blksize) + 1;
    this.oack = negotiated.oack ? encodeOack(negotiated.oack) : null;
  }

  get done(): boolean {
    return this.phase === 'done';
  }

  /** Blocks acknowledged so far (absolute). */
  get progress(): number {
    return this.acked;
  }

  /** First packets: the OACK when options were accepted (wait for ACK 0), else DATA 1. */
  start(now: number): Command[] {
    if (this.phase !== 'new') return [];
    this.startedAt = now;
    if (this.oack) {
      this.phase = 'oack';
      this.lastSendAt = now;
      return [{ type: 'send', packet: this.oack }, this.arm(now)];
    }
    this.phase = 'data';
    return this.sendWindow(now, false);
  }

  handle(event: TransferEvent, now: number): Command[] {
    if (this.phase === 'done' || this.phase === 'new') return [];
    if (event.type !== 'error' && now >= this.startedAt + this.maxLifetimeMs) {
      return this.finish('expired', `transfer still running after ${this.maxLifetimeMs} ms (servers.tftp.maxTransferTime), at block ${this.acked + 1} of ${this.blocks}`);
    }
    switch (event.type) {
      case 'ack':
        this.heard = true;
        return this.onAck(event.block & 0xffff, now);
      case 'timeout':
        return this.onTimeout(now);
      case 'error':
        return this.finish(
          event.code === TftpErrorCode.OPTION_REFUSED ? 'option-refused' : 'client-error',
          `client sent error ${event.code}${event.message ? `: ${event.message}` : ''}`,
        );
    }
  }

  /**
   * The timer for the next timeout, never past the end of the transfer's lifetime. Up to a quarter
   * longer at random: transfers started together (a rack booting, a flood of spoofed requests)
   * would otherwise all retransmit in the same tick, again at each back-off step.
   */
  private arm(now: number): Command {
    const factor = Math.min(2 ** this.retries, MAX_BACKOFF_FACTOR);
    const ms = Math.floor(this.timeoutMs * factor * (1 + this.random() / 4));
    return { type: 'arm', ms: Math.max(0, Math.min(ms, this.startedAt + this.maxLifetimeMs - now)) };
  }

  private finish(outcome: Outcome, detail: string): Command[] {
    this.phase = 'done';
    return [{ type: 'done', outcome, detail }];
  }

  /** Sends the window that starts right after the last ACKed block. */
  private sendWindow(now: number, retransmit: boolean): Command[] {
    const first = this.acked + 1;
    const last = Math.min(this.acked + this.windowsize, this.blocks);
    const count = last - first + 1;
    if (retransmit) this.stats.retransmits += Math.max(0, Math.min(this.sentUpTo, last) - first + 1);
    this.sentUpTo = Math.max(this.sentUpTo, last);
    this.stats.packets += count;
    this.lastSendAt = now;
    return [{ type: 'data', first, count }, this.arm(now)];
  }

  private onAck(block: number, now: number): Command[] {
    if (this.phase === 'oack') {
      // RFC 2347: the client acknowledges the OACK with ACK 0; anything else is stale.
      if (block !== 0) {
        this.stats.ignoredAcks++;
        return [];
      }
      this.phase = 'data';
      this.retries = 0;
      return this.sendWindow(now, false);
    }
    const delta = (block - (this.acked & 0xffff)) & 0xffff;
    if (delta === 0) return this.onDuplicate(now);
    if (delta > this.sentUpTo - this.acked) {
      // Not inside the outstanding window: a stale ACK from before a rollover, or junk.
      this.stats.ignoredAcks++;
      return [];
    }
    this.acked += delta;
    this.retries = 0;
    this.dupResent = false;
    if (this.acked >= this.blocks) return this.finish('complete', `${this.blocks} blocks acknowledged`);
    // RFC 7440: an ACK short of the window's end means the rest was lost: the next window
    // starts after it. The blocks between are resent, so they count as retransmissions.
    return this.sendWindow(now, this.acked < this.sentUpTo);
  }

  private onDuplicate(now: number): Command[] {
    this.stats.ignoredAcks++;
    // Soon after a send, a duplicate ACK is the echo of a duplicated DATA: answering it is what
    // starts a sorcerer's apprentice storm. Late, it means the client timed out: resend once.
    if (this.dupResent || now - this.lastSendAt < this.timeoutMs / 2) return [];
    this.dupResent = true;
    return this.sendWindow(now, true);
  }

  private onTimeout(now: number): Command[] {
    if (this.retries >= this.maxRetries) {
      return this.finish('timeout', `no progress after ${this.retries} retransmission(s) at block ${this.acked + 1} of ${this.blocks}`);
    }
    if (!this.heard && this.retries >= 1) {
      return this.finish('timeout', `the peer never acknowledged anything (gone, or a spoofed request): abandoned after ${this.retries} retransmission`);
    }
    this.retries++;
    if (this.phase === 'oack') {
      this.stats.retransmits++;
      this.lastSendAt = now;
      return [{ type: 'send', packet: this.oack! }, this.arm(now)];
    }
    return this.sendWindow(now, true);
  }
}

