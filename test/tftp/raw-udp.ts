/**
 * One UDP datagram with any source address and port, port 0 included, which no ordinary socket
 * can send (binding port 0 means "pick one"): the fuzz campaign's python3 sender
 * (scripts/fuzz-send.py) builds the IP and UDP headers and sends them through a raw socket. Needs root (CAP_NET_RAW); loopback destinations only in tests.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The fuzz campaign's sender: frames on stdin, op 1 is one raw datagram (see its header). */
const SENDER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'scripts', 'fuzz-send.py');

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
  const ip = (a: string) => Buffer.from(a.split('.').map(Number));
  const port = (p: number) => Buffer.from([p >> 8, p & 255]);
  const frames = datagrams.map((d) => {
    const body = Buffer.concat([Buffer.from([1]), ip(d.from.address), port(d.from.port), ip(d.to.address), port(d.to.port), d.payload]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
  });
  execFileSync('python3', [SENDER], { input: Buffer.concat(frames), stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
}
