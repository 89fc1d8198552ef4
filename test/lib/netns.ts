/**
 * Network namespaces for tests with real clients: hosts on veth links inside 10.77.0.0/16, with no
 * route out. Every namespace and link a Lab creates is removed by destroy(), and names carry the
 * test process's pid so that parallel runs never collide.
 *
 * veth leaves UDP checksums to offload, and real DHCP clients drop such replies ("bad udp
 * cksum"), so TX offload is turned off on every veth end (lab-notes.md).
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { teardownOnExit } from '../../src/lab/topology.js';

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces); CI runs as root';
  for (const tool of ['/usr/sbin/ip', '/usr/sbin/ethtool']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr/sbin', '/sbin'))) return `needs ${tool.split('/').pop()} (apt-get install iproute2 ethtool)`;
  }
  return undefined;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

let seq = 0;

export class Lab {
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private untrack: (() => void) | undefined;

  constructor(tag: string) {
    // Namespace names may be long; interface names are limited to 15 characters.
    this.prefix = `3rc${tag}${process.pid % 100000}x${seq++}`;
  }

  /** Creates a namespace with loopback up and no other interface (so no route out). */
  netns(name: string): string {
    const ns = `${this.prefix}-${name}`;
    this.untrack ??= teardownOnExit(() => this.destroyNow());
    sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /**
   * Links two namespaces with a veth pair; `a`/`b` are `ADDR/PREFIX` in 10.77.0.0/16 (or
   * undefined to leave that end unaddressed, e.g. for a DHCP client). Returns the ifnames.
   */
  link(nsA: string, a: string | undefined, nsB: string, b: string | undefined, opts: { mac?: string } = {}): { ifA: string; ifB: string } {
    for (const addr of [a, b]) if (addr && !addr.startsWith('10.77.')) throw new Error(`lab addresses must be in 10.77.0.0/16, got ${addr}`);
    const id = `${process.pid % 10000}${seq++}`;
    const ifA = `va${id}`.slice(0, 15);
    const ifB = `vb${id}`.slice(0, 15);
    sh('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    if (opts.mac) sh('ip', ['-n', nsB, 'link', 'set', ifB, 'address', opts.mac]);
    for (const [ns, ifn, addr] of [[nsA, ifA, a], [nsB, ifB, b]] as const) {
      if (addr) sh('ip', ['-n', ns, 'addr', 'add', addr, 'dev', ifn]);
      sh('ip', ['-n', ns, 'link', 'set', ifn, 'up']);
      sh('ip', ['netns', 'exec', ns, 'ethtool', '-K', ifn, 'tx', 'off']);
    }
    return { ifA, ifB };
  }

  /** Runs a command inside a namespace to completion; returns stdout (throws on failure). */
  exec(ns: string, cmd: string, args: string[], opts: { timeoutMs?: number } = {}): string {
    return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Starts a long-running command inside a namespace; killed by destroy(). */
  spawn(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.push(child);
    return child;
  }

  /** Kills what it spawned and deletes its namespaces (and so their veths). */
  async destroy(): Promise<void> {
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await new Promise((r) => c.once('exit', r));
      }
    }
    this.destroyNow();
  }

  /**
   * The same, synchronously: also the lab safety net's teardown (src/lab/topology.ts), so that a
   * test or the fuzz campaign interrupted with Ctrl-C or SIGTERM leaves no namespace or process.
   */
  destroyNow(): void {
    this.untrack?.();
    this.untrack = undefined;
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of this.namespaces.reverse()) {
      // Processes still inside (daemons a client forked) would keep the namespace alive.
      try {
        const pids = sh('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean);
        for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        /* already gone */
      }
    }
    this.namespaces.length = 0;
  }
}
