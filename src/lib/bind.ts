/**
 * Binding listeners, with errors an operator can act on: a port that cannot be bound yields one
 * line that names the protocol, the address and port, why, and the fix; never a stack trace.
 */
import dgram from 'node:dgram';
import type net from 'node:net';
import { BindError } from './errors.js';

export interface ListenSpec {
  /** Protocol name used in messages and config paths: dhcp, tftp, http, dns. */
  name: string;
  address: string;
  port: number;
}

function bindErrorMessage(spec: ListenSpec, transport: 'udp' | 'tcp', err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const what = `cannot listen for ${spec.name.toUpperCase()} on ${spec.address}:${spec.port}/${transport}`;
  const cfg = `servers.${spec.name}`;
  switch (code) {
    case 'EADDRINUSE':
      return `${what}: the port is already in use by another program (see which: ss -ln${transport === 'udp' ? 'u' : 't'}p 'sport = :${spec.port}'); stop it, or set ${cfg}.port, or ${cfg}.enabled: false`;
    case 'EACCES':
    case 'EPERM':
      return `${what}: ports below 1024 need root or CAP_NET_BIND_SERVICE; run as root, or grant it (setcap cap_net_bind_service=+ep ${process.execPath}), or set ${cfg}.port to 1024 or above`;
    case 'EADDRNOTAVAIL':
      return `${what}: ${spec.address} is not an address of this machine; set ${cfg}.listen to one of its addresses, or 0.0.0.0`;
    default:
      return `${what}: ${(err as Error).message}`;
  }
}

/** Binds a UDP socket; rejects with a BindError. */
export function bindUdp(spec: ListenSpec, opts: { broadcast?: boolean; reuseAddr?: boolean; lookup?: dgram.SocketOptions['lookup'] } = {}): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    // An IPv6 listen address (DHCPv6) binds an IPv6-only socket.
    const v6 = spec.address.includes(':');
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: opts.reuseAddr ?? false, ...(v6 ? { ipv6Only: true } : {}), ...(opts.lookup ? { lookup: opts.lookup } : {}) });
    const onError = (err: Error) => {
      socket.close();
      reject(new BindError(bindErrorMessage(spec, 'udp', err), { cause: err }));
    };
    socket.once('error', onError);
    socket.bind({ address: spec.address, port: spec.port, exclusive: true }, () => {
      socket.off('error', onError);
      if (opts.broadcast) socket.setBroadcast(true);
      resolve(socket);
    });
  });
}

/**
 * The accept queue of a TCP listener. Node's default (511) overflowed in the boot-storm bench:
 * 2,000 hosts fetching their kernels at once lost 3,709 connections to ListenOverflows, each one
 * a SYN retransmitted a second later. The kernel caps it at net.core.somaxconn (4096 on Linux
 * 5.4 and later).
 */
export const TCP_BACKLOG = 4096;

/** Starts a TCP server listening; rejects with a BindError. */
export function listenTcp(server: net.Server, spec: ListenSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new BindError(bindErrorMessage(spec, 'tcp', err), { cause: err }));
    server.once('error', onError);
    // An IPv6 address listens for IPv6 only: `::` beside a 0.0.0.0 listener on the same port.
    server.listen({ host: spec.address, port: spec.port, exclusive: true, backlog: TCP_BACKLOG, ...(spec.address.includes(':') ? { ipv6Only: true } : {}) }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Closes a UDP socket, resolving when it is closed (and at once if it already was). */
export function closeUdp(socket: dgram.Socket | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!socket) return resolve();
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
