/**
 * The error boundary every datagram and connection handler runs inside, and the check that drops
 * sources that cannot be answered. 3rc is one process: an exception thrown while handling one
 * packet of one protocol must not stop DHCP, TFTP, DNS, HTTP and HA together (issue: one TFTP WRQ
 * from source port 0 made `socket.send` throw ERR_SOCKET_BAD_PORT inside the `message` handler).
 *
 * Rules:
 * - A handler throws or rejects: the error is logged with the server and the peer, counted
 *   (`threerc_handler_errors_total{server}`), and the server goes on with the next packet.
 * - A source that cannot be answered is dropped before any reply, and counted
 *   (`threerc_packets_dropped_total{server,reason}`): port 0 (no socket can send there),
 *   the unspecified address (0.0.0.0/8, ::), limited broadcast, multicast (224.0.0.0/4, ff00::/8; a reply would go to every host:
 *   amplification), and a datagram that claims to come from one of our own listening sockets
 *   (a spoofed source would make two of our servers answer each other forever).
 *
 * The counters are plain maps, read by prom-client at scrape time (see registerGuardStats), so the
 * packet path stays free of label lookups.
 */
import { networkInterfaces as osInterfaces } from 'node:os';
import type { Logger } from './log.js';
import { formatIpv4, hostPort, parseIpv4, plainAddress } from './net.js';
import { canonicalIpv6, ipv6FromBytes, ipv6ToBytes } from './net6.js';

/** Why a source is not answered. */
export type DropReason = 'port-0' | 'bad-port' | 'unspecified' | 'broadcast' | 'multicast' | 'own-socket';

/**
 * Replies a shared socket (DNS, the TFTP request port, DHCP) may hold unsent in this process.
 * A reply to an address with no host behind it waits in the kernel for address resolution (ARP:
 * 3 probes, 3 s) and holds the socket's send buffer meanwhile; a flood from spoofed sources
 * fills it, the kernel answers EAGAIN, and Node queues every later reply in memory. The TFTP
 * fuzz campaign measured 38,000 queued error replies on port 69 and, each time the kernel gave
 * up on those addresses (every 3.07 s), one event-loop turn of 60-100 ms sending the backlog.
 * Beyond this many, a reply is dropped and counted (`send-queue-full`): a reply that waits
 * behind thousands is too late for its client anyway, which retransmits.
 */
export const SEND_QUEUE_CAP = 256;

/** True when `socket` already holds `cap` unsent datagrams: the caller drops its reply. */
export function sendQueueFull(socket: { getSendQueueCount(): number }, cap = SEND_QUEUE_CAP): boolean {
  try {
    return socket.getSendQueueCount() >= cap;
  } catch {
    return false; // not bound yet or closed: send() reports that itself
  }
}

/**
 * Why a datagram from address:port must not be answered, or null if it may be.
 * `ownSockets` holds our own listening `address:port` pairs (bound addresses, not 0.0.0.0) and
 * `ownPorts` the ports we listen on: a source that is one of our sockets is dropped; with a
 * wildcard bind any source on one of our ports from a local address counts (see isOwnAddress).
 */
export function unanswerable(address: string, port: number, own?: OwnSockets): DropReason | null {
  const badPort = unanswerablePort(port);
  if (badPort) return badPort;
  // `::ffff:a.b.c.d` is the IPv4 peer of a dual-stack socket; a zone id (`fe80::1%eth0`) is not
  // part of the address our interfaces list.
  let plain = plainAddress(address);
  const v4 = parseIpv4(plain);
  if (v4 !== null) {
    if (v4 >>> 24 === 0) return 'unspecified'; // 0.0.0.0/8: "this network", never a sender
    if (v4 === 0xffffffff) return 'broadcast';
    if (v4 >>> 28 === 0xe) return 'multicast'; // 224.0.0.0/4
    if (own?.broadcasts.has(plain)) return 'broadcast'; // a subnet's directed broadcast
  } else {
    // Checked on the bytes, so that no spelling (`0:0::0`, `FF02::1`) gets through.
    const b = ipv6ToBytes(plain);
    if (b) {
      if (b[0] === 0xff) return 'multicast'; // ff00::/8
      if (b.every((x) => x === 0)) return 'unspecified'; // ::
      plain = ipv6FromBytes(b); // canonical, as the interface list spells it
    }
  }
  if (own && own.ports.has(port) && own.addresses.has(plain)) return 'own-socket';
  return null;
}

/** The port part of {@link unanswerable}: port 0 (no reply can reach it) or not a port at all. */
export function unanswerablePort(port: number): DropReason | null {
  if (port === 0) return 'port-0';
  if (!Number.isInteger(port) || port < 0 || port > 65535) return 'bad-port';
  return null;
}

/** Our own addresses, directed broadcasts and listening ports, for {@link unanswerable}. */
export interface OwnSockets {
  addresses: ReadonlySet<string>;
  broadcasts: ReadonlySet<string>;
  ports: ReadonlySet<number>;
}

/** Counters of dropped sources and handler failures, shared by every server of a process. */
export class PacketGuard {
  /** `server:reason` -> datagrams dropped before any reply. */
  readonly dropped = new Map<string, number>();
  /** server -> handler invocations that threw or rejected. */
  readonly failures = new Map<string, number>();

  drop(server: string, reason: DropReason | string): void {
    const key = `${server}:${reason}`;
    this.dropped.set(key, (this.dropped.get(key) ?? 0) + 1);
  }

  fail(server: string): void {
    this.failures.set(server, (this.failures.get(server) ?? 0) + 1);
  }

  /**
   * Wraps a handler so that nothing it throws or rejects escapes: the error is logged with the
   * peer that `peerOf` names and counted; the caller (an event emitter) never sees it.
   */
  boundary<A extends unknown[]>(server: string, log: Logger, peerOf: (...args: A) => string, fn: (...args: A) => unknown): (...args: A) => void {
    const onError = (err: unknown, args: A) => {
      this.fail(server);
      let peer = '?';
      try {
        peer = peerOf(...args);
      } catch {
        // a peerOf that throws must not undo the boundary
      }
      log.error({ err, server, peer }, `${server}: handler failed; the packet is dropped and the server goes on`);
    };
    return (...args: A) => {
      try {
        const r = fn(...args);
        if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(undefined, (err: unknown) => onError(err, args));
      } catch (err) {
        onError(err, args);
      }
    };
  }

  /**
   * Runs a promise-returning task in the background with an owner: a rejection is logged and
   * counted, never an unhandled rejection. Use instead of `void promise`.
   */
  own(server: string, log: Logger, what: string, task: Promise<unknown>): void {
    task.then(undefined, (err: unknown) => {
      this.fail(server);
      log.error({ err, server }, `${server}: ${what} failed`);
    });
  }
}

/** The default guard of a process; servers built without one in their deps use it. */
export const processGuard = new PacketGuard();

/** `address:port` of a dgram rinfo or a socket, for logs. */
export function peerOf(rinfo: { address?: string; port?: number; remoteAddress?: string; remotePort?: number }): string {
  return hostPort(rinfo.address ?? rinfo.remoteAddress ?? '?', rinfo.port ?? rinfo.remotePort ?? '?');
}

/**
 * This machine's addresses and the directed broadcast of each IPv4 interface, with the ports 3rc
 * listens on. Read once at server start (interfaces added later are not seen: the kernel drops
 * martian sources from them anyway).
 */
export function ownSockets(ports: Iterable<number>, interfaces: NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]> = osInterfaces()): OwnSockets {
  const addresses = new Set<string>();
  const broadcasts = new Set<string>();
  for (const list of Object.values(interfaces)) {
    for (const i of list ?? []) {
      if (i.family !== 'IPv4') {
        addresses.add(canonicalIpv6(plainAddress(i.address)) ?? i.address);
        continue;
      }
      addresses.add(i.address);
      const ip = parseIpv4(i.address);
      const mask = parseIpv4(i.netmask);
      if (ip === null || mask === null || mask >>> 0 >= 0xfffffffe) continue; // /31 and /32 have no broadcast
      broadcasts.add(formatIpv4((ip | (~mask >>> 0)) >>> 0));
    }
  }
  return { addresses, broadcasts, ports: new Set(ports) };
}
