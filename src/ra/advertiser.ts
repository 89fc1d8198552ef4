/**
 * When 3rc sends router advertisements, per served interface (RFC 4861 section 6.2): a few at
 * start, then every MinRtrAdvInterval..MaxRtrAdvInterval, and an answer to each router
 * solicitation. Time and randomness are injected; packets leave through `out`, so the whole
 * policy runs in tests without a socket.
 *
 * Solicitations are answered at once, by unicast to the soliciting address: iPXE (and any host)
 * waiting for a router starts at the first answer instead of after the next periodic one. RFC
 * 4861 section 6.2.6 asks for a random delay of up to 0.5 s, to keep several routers on one link
 * from answering together; 3rc skips it for unicast answers (which cannot collide with another
 * router's multicast) and keeps, for multicast answers to a solicitation from `::`, the rule that
 * multicast advertisements are at least MIN_DELAY_BETWEEN_RAS apart. Unicast answers are
 * bounded per link (SOLICITED_PER_SECOND): a flood of solicitations is not a flood of answers.
 *
 * A solicitation that breaks RFC 4861 section 6.1.1 (hop limit not 255, malformed options, a
 * source link-layer option from `::`) is logged, counted and dropped.
 */
import type { Clock, Timer } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import { processGuard, type PacketGuard } from '../lib/guard.js';
import { formatIpv6, isMulticast, isUnspecified, parseIpv6 } from './ipv6.js';
import { decodeRouterSolicitation, encodeRouterAdvertisement, NdpCodecError, type RouterAdvertisement } from './ndp.js';

/** RFC 4861 section 10 (router constants). */
export const MAX_INITIAL_RTR_ADVERT_INTERVAL = 16_000;
export const MAX_INITIAL_RTR_ADVERTISEMENTS = 3;
export const MIN_DELAY_BETWEEN_RAS = 3_000;
/** Unicast answers per link and second, at most (also the burst). */
export const SOLICITED_PER_SECOND = 20;

export const ALL_NODES = parseIpv6('ff02::1')!;

/** What one interface advertises. */
export interface RaLink {
  ifindex: number;
  /** Interface name, for logs. */
  name: string;
  /** The advertisement without its source link-layer option (added from `mac`). */
  advertisement: Omit<RouterAdvertisement, 'sourceLinkLayer'>;
  /** The interface's MAC, sent as the source link-layer option (saves hosts a neighbor solicitation). */
  mac?: Buffer;
  /** MaxRtrAdvInterval, ms (4 s to 1800 s). */
  maxInterval: number;
  /** MinRtrAdvInterval, ms (3 s to 0.75 x maxInterval). */
  minInterval: number;
}

export interface RaOutput {
  /** Sends an ICMPv6 message with hop limit 255; false when it could not be handed over. */
  send(ifindex: number, destination: Buffer, message: Buffer): boolean;
}

export type SolicitationOutcome =
  | 'unicast'
  | 'multicast'
  | 'multicast-later'
  | 'rate-limited'
  | 'unknown-link'
  | 'bad-hop-limit'
  | 'bad-source'
  | 'malformed';

interface LinkState {
  link: RaLink;
  message: Buffer;
  initialLeft: number;
  lastMulticast: number;
  timer: Timer | null;
  /** When the pending timer fires (ms since epoch). */
  timerAt: number;
  tokens: number;
  refilledAt: number;
}

export class RouterAdvertiser {
  private readonly links = new Map<number, LinkState>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly out: RaOutput;
  private readonly log: Logger;
  private readonly guard: PacketGuard;
  /** Advertisements sent, by kind, for logs and tests. */
  readonly sent = { periodic: 0, unicast: 0, multicast: 0, final: 0 };

  constructor(deps: { clock: Clock; random?: () => number; out: RaOutput; log: Logger; guard?: PacketGuard }) {
    this.clock = deps.clock;
    this.random = deps.random ?? Math.random;
    this.out = deps.out;
    this.log = deps.log;
    this.guard = deps.guard ?? processGuard;
  }

  /** Starts advertising on a link: the first advertisement now, then the initial ones, then periodic. */
  add(link: RaLink): void {
    this.remove(link.ifindex);
    const message = encodeRouterAdvertisement({ ...link.advertisement, sourceLinkLayer: link.mac });
    const st: LinkState = { link, message, initialLeft: MAX_INITIAL_RTR_ADVERTISEMENTS, lastMulticast: -Infinity, timer: null, timerAt: 0, tokens: SOLICITED_PER_SECOND, refilledAt: this.clock.now() };
    this.links.set(link.ifindex, st);
    this.schedule(st, 0);
  }

  remove(ifindex: number): void {
    const st = this.links.get(ifindex);
    st?.timer?.cancel();
    this.links.delete(ifindex);
  }

  /**
   * The transport came (back) up: advertise on every link now, since advertisements sent while it
   * was down were lost (the initial ones included).
   */
  transportReady(): void {
    for (const st of this.links.values()) this.schedule(st, 0);
  }

  /**
   * Stops every timer. With `final`, each link whose advertisement made 3rc a default router
   * sends one last advertisement with router lifetime 0 (RFC 4861 section 6.2.5), so hosts stop
   * using it at once instead of when the lifetime runs out.
   */
  stop(final = true): void {
    for (const st of this.links.values()) {
      st.timer?.cancel();
      if (final && st.link.advertisement.routerLifetime > 0) {
        const last = encodeRouterAdvertisement({ ...st.link.advertisement, routerLifetime: 0, sourceLinkLayer: st.link.mac });
        if (this.out.send(st.link.ifindex, ALL_NODES, last)) this.sent.final++;
      }
    }
    this.links.clear();
  }

  /** A router solicitation received on ifindex from `source` with the IPv6 hop limit `hopLimit`. */
  solicitation(ifindex: number, source: Buffer, hopLimit: number, message: Buffer): SolicitationOutcome {
    const st = this.links.get(ifindex);
    const peer = source.length === 16 ? formatIpv6(source) : '?';
    if (!st) return this.dropped('unknown-link', { ifindex, peer }, 'debug');
    // RFC 4861 section 6.1.1: a solicitation that crossed a router is not from this link.
    if (hopLimit !== 255) return this.dropped('bad-hop-limit', { ifindex, link: st.link.name, peer, hopLimit });
    if (source.length !== 16 || isMulticast(source)) return this.dropped('bad-source', { ifindex, link: st.link.name, peer });
    const unspecified = isUnspecified(source);
    let mac: string | undefined;
    try {
      const lla = decodeRouterSolicitation(message, unspecified).sourceLinkLayer;
      if (lla?.length === 6) mac = [...lla].map((x) => x.toString(16).padStart(2, '0')).join(':');
    } catch (err) {
      if (!(err instanceof NdpCodecError)) throw err;
      return this.dropped('malformed', { ifindex, link: st.link.name, peer, code: err.code, reason: err.message });
    }
    const now = this.clock.now();
    if (unspecified) {
      // Nobody to answer by unicast: the all-nodes group, at most once per MIN_DELAY_BETWEEN_RAS.
      const at = Math.max(now, st.lastMulticast + MIN_DELAY_BETWEEN_RAS);
      if (at === now) {
        this.multicast(st, 'multicast');
        this.log.info({ link: st.link.name, peer }, 'ra: answered a router solicitation (all nodes)');
        return 'multicast';
      }
      if (!st.timer || st.timerAt > at) this.schedule(st, at - now);
      return 'multicast-later';
    }
    st.tokens = Math.min(SOLICITED_PER_SECOND, st.tokens + ((now - st.refilledAt) / 1000) * SOLICITED_PER_SECOND);
    st.refilledAt = now;
    if (st.tokens < 1) return this.dropped('rate-limited', { ifindex, link: st.link.name, peer }, 'debug');
    st.tokens -= 1;
    if (this.out.send(ifindex, source, st.message)) this.sent.unicast++;
    // info: a host asking for routers is a step of its boot (iPXE waits for the answer); the
    // answers are bounded per link, and the log by log.maxLinesPerSecond.
    this.log.info({ link: st.link.name, peer, mac }, 'ra: answered a router solicitation');
    return 'unicast';
  }

  private dropped(reason: SolicitationOutcome, fields: Record<string, unknown>, level: 'warn' | 'debug' = 'warn'): SolicitationOutcome {
    this.guard.drop('ra', reason);
    this.log[level]({ ...fields, reason }, 'ra: router solicitation dropped');
    return reason;
  }

  private schedule(st: LinkState, ms: number): void {
    st.timer?.cancel();
    st.timerAt = this.clock.now() + ms;
    st.timer = this.clock.schedule(ms, () => {
      st.timer = null;
      this.multicast(st, 'periodic');
    });
  }

  /** Sends to all nodes and schedules the next unsolicited advertisement. */
  private multicast(st: LinkState, kind: 'periodic' | 'multicast'): void {
    if (this.out.send(st.link.ifindex, ALL_NODES, st.message)) this.sent[kind]++;
    st.lastMulticast = this.clock.now();
    const { minInterval, maxInterval } = st.link;
    let next = minInterval + this.random() * (maxInterval - minInterval);
    if (st.initialLeft > 0) {
      st.initialLeft--;
      if (st.initialLeft > 0) next = Math.min(next, MAX_INITIAL_RTR_ADVERT_INTERVAL);
    }
    this.schedule(st, Math.max(MIN_DELAY_BETWEEN_RAS, Math.round(next)));
  }
}
