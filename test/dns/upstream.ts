/**
 * A real dnsmasq on a loopback address, for forwarding tests and benchmarks. It runs in the
 * foreground (-k, which forks per TCP connection: lab-notes.md) and is killed by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';

export const DNSMASQ = '/usr/sbin/dnsmasq';

/** Why dnsmasq tests cannot run here, or undefined. */
export function dnsmasqUnavailable(): string | undefined {
  if (!existsSync(DNSMASQ)) return `needs ${DNSMASQ} (apt-get install dnsmasq-base)`;
  return undefined;
}

export interface Dnsmasq {
  proc: ChildProcess;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Starts dnsmasq with the given options on address:port; resolves once its TCP port accepts. */
export async function startDnsmasq(address: string, port: number, args: string[]): Promise<Dnsmasq> {
  const proc = spawn(DNSMASQ, ['-k', `--port=${port}`, `--listen-address=${address}`, '--bind-interfaces', '--no-resolv', '--no-hosts', '--user=root', '--pid-file', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const d: Dnsmasq = {
    proc,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`dnsmasq exited: ${err}`);
    const up = await new Promise<boolean>((resolve) => {
      const c = createConnection({ host: address, port }, () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (up) return d;
    await new Promise((r) => setTimeout(r, 50));
  }
  await d.stop();
  throw new Error(`dnsmasq did not start listening: ${err}`);
}
