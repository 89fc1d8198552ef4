/**
 * Runs the real `3rc serve` inside a network namespace (DHCP on 0.0.0.0:67 there), for the
 * real-client tests and the benchmark. `ip netns exec` execs the command in place, so the child's
 * pid is 3rc's own and kill -9 reaches it.
 */
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../lib/netns.js';
import { BIN, type LabConfig } from '../lib/serve.js';

export interface NsServed {
  proc: ChildProcess;
  lines: string[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<unknown>;
  kill9(): Promise<unknown>;
}

/** Starts 3rc in `ns` and resolves once it logged "3rc ready". */
export function serveInNetns(lab: Lab, ns: string, cfg: LabConfig, opts: { timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<NsServed> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const proc = lab.spawn(ns, process.execPath, [...(opts.nodeArgs ?? []), BIN, 'serve', '--config', cfg.file]);
  const lines: string[] = [];
  let err = '';
  let buf = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const served: NsServed = {
    proc,
    lines,
    stderr: () => err,
    exited,
    stop: async () => {
      if (alive()) proc.kill('SIGTERM');
      return exited;
    },
    kill9: async () => {
      if (alive()) proc.kill('SIGKILL');
      return exited;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`3rc serve did not get ready; stderr: ${err}; stdout: ${lines.join('\n')}`));
    }, timeoutMs);
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (line.includes('"msg":"3rc ready"')) {
          clearTimeout(timer);
          resolve(served);
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`3rc serve exited (code ${code}, signal ${signal}) before it was ready: ${err} ${lines.join('\n')}`));
    });
  });
}
