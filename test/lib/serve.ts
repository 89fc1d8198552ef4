/**
 * Runs `3rc serve` as a real child process for tests: a config derived from examples/lab.yaml
 * with the given changes (default: every server on 127.0.0.1 at a free port, the store in a
 * temporary folder), waits for its "3rc ready" line, and stops or kills it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { deepMerge } from '../../src/lab/lab.js';
import { packageRoot } from '../../src/lib/paths.js';
import { SERVE_ENV, SERVE_NODE_FLAGS } from '../../src/lib/node-flags.js';

export const ROOT = packageRoot();
export const BIN = join(ROOT, 'bin', '3rc.js');
export const LAB_YAML = join(ROOT, 'examples', 'lab.yaml');

/** A free TCP port on 127.0.0.1 that is free for UDP too (so one port serves DNS on both). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

type Obj = Record<string, unknown>;

export interface LabConfig {
  dir: string;
  file: string;
  ports: { dhcp: number; tftp: number; http: number; dns: number };
  data: Obj;
  cleanup(): void;
}

/** Writes lab.yaml with changes to a fresh temp folder; servers on loopback at free ports. */
export async function writeLabConfig(changes: Obj = {}): Promise<LabConfig> {
  const dir = mkdtempSync(join(tmpdir(), '3rc-test-'));
  const ports = { dhcp: await freePort(), tftp: await freePort(), http: await freePort(), dns: await freePort() };
  const base = parse(readFileSync(LAB_YAML, 'utf8')) as Obj;
  const servers = Object.fromEntries(Object.entries(ports).map(([k, port]) => [k, { listen: '127.0.0.1', port }]));
  const data = deepMerge(deepMerge(base, { servers, store: { path: join(dir, '3rc.db'), sync: 'normal' }, paths: { boot: join(dir, 'boot') } }), changes);
  const file = join(dir, 'config.yaml');
  writeFileSync(file, stringify(data));
  return { dir, file, ports, data, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The MAC of lo5, the host labWithLoopbackHost() adds. */
export const LO_MAC = '52-54-00-77-00-55';

/** lab.yaml plus a host on loopback (lo5, 127.0.0.5), so that "from the host's own address" can be tested. */
export async function labWithLoopbackHost(extra: Obj = {}): Promise<LabConfig> {
  const base = parse(readFileSync(LAB_YAML, 'utf8')) as { network: { subnets: unknown[] }; hosts: unknown[] };
  return writeLabConfig({
    network: { ...base.network, subnets: [...base.network.subnets, { cidr: '127.0.0.0/24' }] },
    hosts: [...base.hosts, { name: 'lo5', mac: LO_MAC.replace(/-/g, ':'), ip: '127.0.0.5', profile: 'debian12', role: 'services' }],
    ...extra,
  });
}

export interface Served {
  proc: ChildProcess;
  /** Every stdout line so far (pino JSON). */
  lines: string[];
  stderr: () => string;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then wait for exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill9(): Promise<void>;
}

/** Starts `3rc serve` and resolves once it logged "3rc ready" (rejects if it exits first). */
export function serve(cfg: LabConfig, opts: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; timeoutMs?: number } = {}): Promise<Served> {
  const proc = spawn(process.execPath, [...SERVE_NODE_FLAGS, BIN, 'serve', '--config', cfg.file], {
    env: { ...process.env, ...SERVE_ENV, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: opts.uid,
    gid: opts.gid,
  });
  return awaitReady(proc, { url: `http://127.0.0.1:${cfg.ports.http}`, timeoutMs: opts.timeoutMs });
}

/**
 * Follows a started `3rc serve` child (stdout and stderr piped): resolves once it logged
 * "3rc ready", rejects (with its exit code and stderr) if it exits or times out first.
 */
export function awaitReady(proc: ChildProcess, opts: { url: string; timeoutMs?: number | undefined }): Promise<Served> {
  const lines: string[] = [];
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const served: Served = {
    proc,
    lines,
    stderr: () => err,
    url: opts.url,
    exited,
    async stop() {
      if (alive()) proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (alive()) proc.kill('SIGKILL');
      await exited;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`3rc serve did not get ready in time; stderr: ${err}; stdout: ${lines.join('\n')}`));
    }, opts.timeoutMs ?? 20_000);
    createInterface({ input: proc.stdout!, crlfDelay: Infinity }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"msg":"3rc ready"')) {
        clearTimeout(timer);
        resolve(served);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`3rc serve exited (code ${code}, signal ${signal}) before it was ready: ${err} ${lines.join('\n')}`), { code, stderr: err }));
    });
  });
}

/** Runs the 3rc CLI to completion. */
export function cli(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
