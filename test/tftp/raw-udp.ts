/**
 * One UDP datagram with any source address and port, port 0 included, which no ordinary socket
 * can send (binding port 0 means "pick one"): python3 builds the IP and UDP headers and sends
 * them through a raw socket. Needs root (CAP_NET_RAW); loopback destinations only in tests.
 */
import { execFileSync } from 'node:child_process';

const SCRIPT = `
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for spec in sys.argv[1:]:
    src, sport, dst, dport, payload = spec.split(',')
    payload = bytes.fromhex(payload)
    udp = struct.pack('!HHHH', int(sport), int(dport), 8 + len(payload), 0) + payload  # checksum 0: none (IPv4)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    s.sendto(ip + udp, (dst, 0))
`;

/** Why raw datagrams cannot be sent here, or undefined. */
export function rawUdpUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (a raw socket forges the source port 0); CI runs as root';
  try {
    execFileSync('python3', ['-c', 'import socket'], { stdio: 'ignore' });
  } catch {
    return 'needs python3 (scripts/install.sh installs it)';
  }
  return undefined;
}

export interface RawDatagram {
  from: { address: string; port: number };
  to: { address: string; port: number };
  payload: Buffer;
}

/** Sends the datagrams in order, from one python3 process. */
export function sendRawUdp(datagrams: RawDatagram[]): void {
  const specs = datagrams.map((d) => [d.from.address, d.from.port, d.to.address, d.to.port, d.payload.toString('hex')].join(','));
  execFileSync('python3', ['-c', SCRIPT, ...specs], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}
