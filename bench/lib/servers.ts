/**
 * Starting the servers under test, each registered for cleanup: 3rc (on loopback, or inside a
 * namespace), dnsmasq, tftpd-hpa and ISC Kea's kea-dhcp4 (inside a namespace, from Debian). dnsmasq runs with -k
 * (foreground; it forks per TCP connection, whereas -d serialises TCP: lab-notes.md);
 * tftpd-hpa with -L (foreground, one forked child per transfer).
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../../test/lib/netns.js';
import { serve, type LabConfig, type Served } from '../../test/lib/serve.js';
import { serveInNetns } from '../../test/dhcp/ns-serve.js';
import { onCleanup, stopChild } from './cleanup.js';
import { run, sleep } from './proc.js';

export const DNSMASQ = '/usr/sbin/dnsmasq';
export const IN_TFTPD = '/usr/sbin/in.tftpd';
export const KEA_DHCP4 = '/usr/sbin/kea-dhcp4';

export interface Running {
  pid: number;
  stop(): Promise<void>;
}

/** `3rc serve` on cfg: in namespace ns when given, else where cfg says (loopback). */
export async function start3rc(cfg: LabConfig, opts: { lab?: Lab; ns?: string; timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<Running & { served: Served }> {
  const served = opts.lab && opts.ns
    ? await serveInNetns(opts.lab, opts.ns, cfg, { timeoutMs: opts.timeoutMs ?? 120_000, nodeArgs: opts.nodeArgs ?? [] })
    : await serve(cfg, { timeoutMs: opts.timeoutMs ?? 120_000 });
  const stop = onCleanup(async () => {
    const t = setTimeout(() => void served.kill9(), 15_000);
    await served.stop();
    clearTimeout(t);
  });
  return { pid: served.proc.pid!, served, stop };
}

/** Waits until something listens on UDP `port` inside ns (ss), or throws after timeoutMs. */
export function waitUdp(ns: string, port: number, child: ChildProcess, what: string, err: () => string, timeoutMs = 10_000): Promise<void> {
  return waitListen(ns, 'udp', port, child, what, err, timeoutMs);
}

/** Waits until something listens on `proto` `port` inside ns (ss), or throws after timeoutMs. */
export async function waitListen(ns: string, proto: 'udp' | 'tcp', port: number, child: ChildProcess, what: string, err: () => string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited: ${err()}`);
    const r = await run('ip', ['netns', 'exec', ns, 'ss', '-Hln', proto === 'udp' ? '-u' : '-t', `sport = :${port}`]);
    if (r.stdout.trim()) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${proto.toUpperCase()} ${port}: ${err()}`);
}

/** dnsmasq in ns with the given options (plus -k, no config file, root); waits for `udpPort`. */
export async function startDnsmasqNs(lab: Lab, ns: string, args: string[], udpPort: number): Promise<Running> {
  const p = lab.spawn(ns, DNSMASQ, ['-k', '-C', '/dev/null', '-u', 'root', '--pid-file', ...args]);
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const stop = onCleanup(() => stopChild(p));
  try {
    await waitUdp(ns, udpPort, p, 'dnsmasq', () => err);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid: p.pid!, stop };
}

/** tftpd-hpa in ns, serving root on address:port. */
export async function startTftpdHpa(lab: Lab, ns: string, address: string, port: number, root: string): Promise<Running> {
  const p = lab.spawn(ns, IN_TFTPD, ['-L', '-a', `${address}:${port}`, '-s', root]);
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const stop = onCleanup(() => stopChild(p));
  try {
    await waitUdp(ns, port, p, 'in.tftpd', () => err);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid: p.pid!, stop };
}

/**
 * ISC Kea's kea-dhcp4 in ns with `config` (its `Dhcp4` object), its lock, pid and lease files in
 * dir; waits for UDP 67.
 */
export async function startKeaNs(lab: Lab, ns: string, config: object, dir: string): Promise<Running> {
  const file = join(dir, 'kea-dhcp4.conf');
  writeFileSync(file, JSON.stringify({ Dhcp4: config }, null, 1));
  const p = lab.spawn(ns, KEA_DHCP4, ['-c', file], { env: { ...process.env, KEA_LOCKFILE_DIR: dir, KEA_PIDFILE_DIR: dir, KEA_LOGGER_DESTINATION: join(dir, 'kea.log') } });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  p.stdout!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const stop = onCleanup(() => stopChild(p));
  try {
    await waitUdp(ns, 67, p, 'kea-dhcp4', () => err);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid: p.pid!, stop };
}
