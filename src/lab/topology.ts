/**
 * The lab's network: network namespaces on this machine, never the real LAN.
 *
 *   <prefix>-sw   the switch: bridge br0, the VMs' tap devices, qemu processes
 *   <prefix>-srv  3rc at 10.77.0.1/24 (eth0, a veth whose other end is on br0)
 *   <prefix>-<h>  further hosts (hypervisors) linked to br0, each at its own address
 *
 * No namespace has a default route and the root namespace gets no address, so nothing in the lab
 * can reach out and nothing outside can reach in. TX offload is off on every veth (lab-notes:
 * otherwise real DHCP clients drop 3rc's replies as "bad udp cksum").
 *
 * IPv6 router solicitations are answered by the lab's 3rc itself (servers.ra, src/ra: its eth0
 * holds 10.77.0.1, inside a served subnet), with its default advertisement: no prefix, no flags, a
 * router lifetime of 0. Nobody gets an IPv6 address beyond the link-local ones every veth has
 * anyway, and no route; iPXE's IPv6 autoconfiguration ends at that answer instead of waiting
 * 13-16 s for routers that never answer (lab-notes). The switch runs no radvd.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LAB_SERVER_ADDR = '10.77.0.1/24';

/**
 * A lab test's time budget: `ms` (its time measured in CI, with a margin), times
 * THREERC_LAB_BUDGET_SCALE when set (a machine much busier or slower than CI's 2 cores).
 */
export function labBudget(ms: number): number {
  const scale = Number(process.env.THREERC_LAB_BUDGET_SCALE);
  return scale > 0 ? ms * scale : ms;
}

/** Why a lab cannot run here, or undefined when it can. */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, tap devices)';
  for (const [tool, pkg] of [['ip', 'iproute2'], ['ethtool', 'ethtool'], ['qemu-system-x86_64', 'qemu-system-x86']] as const) {
    if (!installed(tool)) return `the lab needs ${tool} (apt-get install ${pkg})`;
  }
  return undefined;
}

/** Whether a program is in one of the system's bin directories. */
function installed(tool: string): boolean {
  return ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => existsSync(`${d}/${tool}`));
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(cmd: string, args: string[]): void {
  try {
    run(cmd, args);
  } catch {
    /* already gone */
  }
}

/**
 * The safety net of a test process that is killed (SIGTERM, SIGINT, SIGHUP) or exits with a lab
 * still up: every live LabNetwork is torn down synchronously (its processes killed, everything
 * left in its namespaces killed, the namespaces deleted), so that a killed lab test leaves no
 * libvirtd, qemu, gmond, sshd or 3rc behind. `also` adds teardowns of labs built otherwise.
 */
const live = new Set<LabNetwork>();
const extraTeardowns = new Set<() => void>();
let netInstalled = false;

function teardownAllSync(): void {
  for (const net of [...live]) net.destroyNow();
  for (const f of [...extraTeardowns]) {
    try {
      f();
    } catch {
      /* best effort */
    }
  }
  extraTeardowns.clear();
}

function installSafetyNet(): void {
  if (netInstalled) return;
  netInstalled = true;
  process.once('exit', teardownAllSync);
  // process.on, not once: a second signal (Ctrl-C twice, or `pkill` hitting both `timeout` and
  // node) while the teardown runs must not find the default action back and kill it half-way.
  let tearing = false;
  for (const [sig, n] of [['SIGTERM', 15], ['SIGINT', 2], ['SIGHUP', 1]] as const) {
    process.on(sig, () => {
      if (tearing) return;
      tearing = true;
      process.stderr.write(`lab: ${sig}: tearing down ${live.size + extraTeardowns.size} lab(s)\n`);
      teardownAllSync();
      process.exit(128 + n);
    });
  }
}

/** Tears down every LabNetwork of this process still up (an after hook's last resort). */
export function destroyLiveNetworks(): void {
  for (const net of [...live]) net.destroyNow();
}

/** Registers a synchronous teardown for the safety net (see above); returns its unregister. */
export function teardownOnExit(f: () => void): () => void {
  installSafetyNet();
  extraTeardowns.add(f);
  return () => extraTeardowns.delete(f);
}

/**
 * A lab test's temporary work directory (disk images, logs, configs: gigabytes), removed by the
 * safety net too, so that a killed lab test does not leave it in /tmp. `remove()` in its after hook.
 */
export function labWorkDir(name: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `3rc-${name}-`));
  const rm = () => rmSync(dir, { recursive: true, force: true });
  const untrack = teardownOnExit(rm);
  return {
    dir,
    remove() {
      untrack();
      rm();
    },
  };
}

export class LabNetwork {
  readonly switchNs: string;
  readonly serverNs: string;
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private seq = 0;

  private constructor(readonly prefix: string) {
    this.switchNs = `${prefix}-sw`;
    this.serverNs = `${prefix}-srv`;
  }

  /** Creates the switch and the server namespace (3rc's address: 10.77.0.1/24). */
  static create(prefix: string): LabNetwork {
    if (!/^[a-z0-9]{1,10}$/i.test(prefix)) throw new Error(`lab prefix must be 1-10 letters or digits, got ${JSON.stringify(prefix)}`);
    const net = new LabNetwork(prefix);
    installSafetyNet();
    live.add(net);
    try {
      net.addNs(net.switchNs);
      run('ip', ['-n', net.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
      // Forward at once: a bridge port otherwise listens/learns for 15 s, and PXE ROMs give up sooner.
      run('ip', ['-n', net.switchNs, 'link', 'set', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
      run('ip', ['-n', net.switchNs, 'link', 'set', 'br0', 'up']);
      net.addNs(net.serverNs);
      net.uplink(net.serverNs, 'eth0', LAB_SERVER_ADDR);
    } catch (err) {
      net.destroySync();
      throw err;
    }
    return net;
  }

  /**
   * Gives 3rc's eth0 an IPv6 address too (network.ipv6.serverIp with its /64), in the lab's ULA
   * prefix fd77::/48 only; no duplicate address detection (the lab is the only one on the link).
   */
  addServerAddress6(cidr: string): void {
    if (!/^fd77:[0-9a-f:]*\/\d+$/.test(cidr)) throw new Error(`lab IPv6 addresses must be in fd77::/48, got ${cidr}`);
    run('ip', ['netns', 'exec', this.serverNs, 'sysctl', '-qw', 'net.ipv6.conf.eth0.disable_ipv6=0']);
    run('ip', ['-n', this.serverNs, '-6', 'addr', 'add', cidr, 'dev', 'eth0', 'nodad']);
  }

  private addNs(ns: string): void {
    run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** A veth from `ns` (named ifname there, with addr) to a port of br0. */
  private uplink(ns: string, ifname: string, addr: string | undefined): void {
    if (addr && !addr.startsWith('10.77.')) throw new Error(`lab addresses must be in 10.77.0.0/16, got ${addr}`);
    const port = `p${this.prefix}${this.seq++}`.slice(0, 15);
    run('ip', ['link', 'add', port, 'netns', this.switchNs, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns]);
    run('ip', ['-n', this.switchNs, 'link', 'set', port, 'master', 'br0', 'up']);
    if (addr) run('ip', ['-n', ns, 'addr', 'add', addr, 'dev', ifname]);
    run('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
    run('ip', ['netns', 'exec', this.switchNs, 'ethtool', '-K', port, 'tx', 'off']);
    run('ip', ['netns', 'exec', ns, 'ethtool', '-K', ifname, 'tx', 'off']);
  }

  /**
   * A further host on the lab switch: its own namespace at `addr` (10.77.x/yy) on eth0. With
   * bridge, a second link eth1 is a port of a bridge br0 without an address, which the host's VMs
   * join: the management link (eth0) and the VMs' uplink (eth1) can be cut one at a time.
   */
  addHost(name: string, addr: string, opts: { bridge?: boolean } = {}): string {
    const ns = `${this.prefix}-${name}`;
    this.addNs(ns);
    this.uplink(ns, 'eth0', addr);
    if (!opts.bridge) return ns;
    this.uplink(ns, 'eth1', undefined);
    run('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', ns, 'link', 'set', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    run('ip', ['-n', ns, 'link', 'set', 'eth1', 'master', 'br0']);
    run('ip', ['-n', ns, 'link', 'set', 'br0', 'up']);
    return ns;
  }

  /** A tap device on br0 for a qemu NIC; qemu must run in the switch namespace to open it. */
  addTap(): string {
    const tap = `t${this.prefix}${this.seq++}`.slice(0, 15);
    run('ip', ['-n', this.switchNs, 'tuntap', 'add', tap, 'mode', 'tap']);
    run('ip', ['-n', this.switchNs, 'link', 'set', tap, 'master', 'br0', 'up']);
    return tap;
  }

  removeTap(tap: string): void {
    tryRun('ip', ['-n', this.switchNs, 'link', 'del', tap]);
  }

  /**
   * Cuts a host's links to the switch (or restores them): the namespace and its processes stay.
   * `management` is eth0 (its address), `vms` the VMs' uplink of a bridged host, `all` both.
   */
  setHostLink(name: string, up: boolean, which: 'management' | 'vms' | 'all' = 'all'): void {
    const ns = `${this.prefix}-${name}`;
    const links = which === 'management' ? ['eth0'] : which === 'vms' ? ['eth1'] : ['eth0', 'eth1'];
    for (const l of links) {
      if (l === 'eth1' && !this.hasLink(ns, l)) continue; // a host without VMs has no eth1
      run('ip', ['-n', ns, 'link', 'set', l, up ? 'up' : 'down']);
    }
  }

  private hasLink(ns: string, link: string): boolean {
    try {
      run('ip', ['-n', ns, 'link', 'show', link]);
      return true;
    } catch {
      return false;
    }
  }

  /** Runs a command in a namespace to completion; returns stdout, throws with stderr on failure. */
  exec(ns: string, cmd: string, args: string[], timeoutMs = 30_000): string {
    return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Starts a long-running command in a namespace; stopped by destroy(). */
  spawn(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.push(child);
    return child;
  }

  /** Stops every process it started (TERM, then KILL) and deletes its namespaces. */
  async destroy(): Promise<void> {
    const alive = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    for (const c of alive) c.kill('SIGTERM');
    await Promise.all(alive.map((c) => new Promise<void>((resolve) => {
      const t = setTimeout(() => { c.kill('SIGKILL'); resolve(); }, 3000);
      c.once('exit', () => { clearTimeout(t); resolve(); });
    })));
    this.destroySync();
  }

  /** destroy() without waiting: everything killed at once (the safety net, a failed start). */
  destroyNow(): void {
    this.destroySync();
  }

  private destroySync(): void {
    live.delete(this);
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of [...this.namespaces].reverse()) {
      killNamespacePids(ns);
      tryRun('ip', ['netns', 'del', ns]);
    }
    this.namespaces.length = 0;
  }

  /** Removes every namespace whose name starts with `<prefix>-` (what a crashed lab left behind). */
  static destroyAll(prefix: string): string[] {
    const names = run('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${prefix}-`));
    for (const ns of names) {
      killNamespacePids(ns);
      tryRun('ip', ['netns', 'del', ns]);
    }
    return names;
  }
}

/** Kills what still runs in a namespace (qemu, 3rc, daemons), so that deleting it frees it. */
function killNamespacePids(ns: string): void {
  let pids: string[] = [];
  try {
    pids = run('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
