/**
 * Real etcd members for tests: `startEtcd` runs one single-member cluster on loopback at free
 * ports in a temporary data folder; `etcdUnavailable` says why it cannot (no binary). Every member
 * is killed and its folder removed by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD = process.env.THREERC_ETCD ?? '/usr/bin/etcd';

export function etcdUnavailable(): string | undefined {
  return existsSync(ETCD) ? undefined : `needs ${ETCD} (apt-get install etcd-server)`;
}

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export interface EtcdProcess {
  /** `127.0.0.1:port` of its client URL. */
  endpoint: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Resolves once the member reports it serves clients. */
export async function startEtcd(): Promise<EtcdProcess> {
  const dir = mkdtempSync(join(tmpdir(), '3rc-etcd-'));
  const client = await freeTcpPort();
  const peer = await freeTcpPort();
  const proc = spawn(ETCD, [
    '--name', 'test',
    '--data-dir', join(dir, 'data'),
    '--listen-client-urls', `http://127.0.0.1:${client}`,
    '--advertise-client-urls', `http://127.0.0.1:${client}`,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `test=http://127.0.0.1:${peer}`,
    '--log-level', 'warn',
    '--logger', 'zap',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`etcd exited: ${out}`);
    }
    const ok = await fetch(`http://127.0.0.1:${client}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not get ready: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint: `127.0.0.1:${client}`, proc, output: () => out, stop };
}
