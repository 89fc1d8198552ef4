/**
 * A hypervisor host of the lab: its own network namespace on the lab switch (address on a bridge
 * br0 that its VMs' NICs join), its own mount and UTS namespaces (a private /run, its own
 * /etc/libvirt, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt and host name), a real
 * privileged libvirtd managing qemu VMs (TCG) and a real sshd that 3rc logs into with a key and
 * checks by its host key. Two of these on one machine are two independent `qemu:///system`s.
 * Facts behind the settings: ../shared/docs/lab-notes.md ("Real hypervisors").
 *
 * The VMs' disks live in one directory shared by every host (standing in for NAS storage).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { gmondConf } from './ganglia.js';
import type { LabNetwork } from './topology.js';
import { p2vDomainXml } from '../p2v/domain-xml.js';

/** The libvirt paths each host gets its own copy of (bind-mounted in its mount namespace). */
export const LIBVIRT_DIRS = ['/etc/libvirt', '/var/lib/libvirt', '/var/log/libvirt', '/var/cache/libvirt'];

/**
 * Every path a host gets its own copy of: libvirt's, and root's home. sshd runs each command in
 * root's login shell, which reads ~/.bashrc; this machine's runs `pyenv init`, whose rehash holds
 * a lock file under ~/.pyenv. A session killed in it (a host's power cut, a command timeout)
 * leaves the lock behind, and every later login waits 60 s for it, longer than 3rc's 30 s command
 * timeout (seen here: all SSH to a lab host hung behind a lock left by an earlier run). A
 * hypervisor's root home is its own, empty at first, as on a fresh host.
 */
export const HOST_DIRS = [...LIBVIRT_DIRS, '/root'];

/** Where a host keeps its copy of `path` (in its dir). */
const ownCopy = (dir: string, path: string) => join(dir, path.slice(1).replace(/\//g, '_'));

/** qemu.conf settings that work without systemd, cgroups or a security driver (lab-notes). */
export const QEMU_CONF = [
  'user = "root"',
  'group = "root"',
  'security_driver = "none"',
  'stdio_handler = "file"',
  'cgroup_controllers = [ ]',
  'namespaces = [ ]',
  'dynamic_ownership = 0',
  'remember_owner = 0',
].join('\n');

/** Why libvirt hosts cannot run here, or undefined. */
export function hypervisorUnavailable(): string | undefined {
  for (const [bin, pkg] of [['/usr/sbin/libvirtd', 'libvirt-daemon libvirt-daemon-driver-qemu'], ['/usr/bin/virsh', 'libvirt-clients'], ['/usr/sbin/sshd', 'openssh-server'], ['/usr/sbin/gmond', 'ganglia-monitor'], ['/usr/bin/unshare', 'util-linux']] as const) {
    if (!existsSync(bin)) return `needs ${bin} (apt-get install --no-install-recommends ${pkg})`;
  }
  try {
    execFileSync('getent', ['passwd', 'libvirt-qemu'], { stdio: 'ignore' });
  } catch {
    return 'libvirtd loads its qemu driver only when a libvirt-qemu user exists (scripts/install.sh --test creates it)';
  }
  for (const d of LIBVIRT_DIRS) if (!existsSync(d)) return `needs the directory ${d} to mount each host's own copy on (scripts/install.sh --test creates it)`;
  return undefined;
}

/** What a host's virsh wrapper does with a `virsh start`: pass it on, hold it until released, or answer late. */
export type StartMode = 'pass' | 'hold' | 'slow';

/** One `virsh start` the wrapper saw: when it was asked, and when the real one returned (and how). */
export interface SeenStart {
  vm: string;
  /** ms since the epoch. */
  asked: number;
  started: number | null;
  rc: number | null;
}

/**
 * The virsh every command in a lab host runs (bind-mounted over /usr/bin/virsh in the host's own
 * mount namespace, so no other host or lab sees it): any call but `start` is the real virsh
 * (exec'd); a `start` is logged, then, by the mode file in `ctl`: `hold` waits until the file
 * `release` exists, `slow` starts the domain and then sleeps `slowS` seconds before answering
 * (longer than 3rc's command timeout: its virsh times out although the domain started). A held
 * start ignores SIGHUP and SIGPIPE, so that it survives the SSH session of a 3rc killed meanwhile;
 * a command timeout (3rc kills the command's process group) kills it.
 */
export function virshWrapper(real: string, ctl: string, slowS = 120): string {
  return `#!/bin/sh
case " $* " in
  *" start "*) ;;
  *) exec ${real} "$@" ;;
esac
trap '' HUP PIPE
for a in "$@"; do vm=$a; done
now() { date +%s%3N; }
echo "asked $(now) $vm $$" >> ${ctl}/starts.log
mode=$(cat ${ctl}/start-mode 2>/dev/null)
if [ "$mode" = hold ]; then
  while [ ! -e ${ctl}/release ]; do sleep 0.1; done
fi
out=$(${real} "$@" 2>&1); rc=$?
echo "started $(now) $vm $$ $rc" >> ${ctl}/starts.log
[ "$mode" = slow ] && sleep ${slowS}
printf '%s\n' "$out"
[ $rc -eq 0 ] || printf '%s\n' "$out" >&2
exit $rc
`;
}

/** Parses the wrapper's starts.log. */
export function parseStarts(text: string): SeenStart[] {
  const out: SeenStart[] = [];
  const byPid = new Map<string, SeenStart>();
  for (const line of text.split('\n')) {
    const [what, at, vm, pid, rc] = line.split(' ');
    if (!vm || !pid) continue;
    if (what === 'asked') {
      const st: SeenStart = { vm, asked: Number(at), started: null, rc: null };
      out.push(st);
      byPid.set(pid, st);
    } else if (what === 'started') {
      const st = byPid.get(pid);
      if (st) Object.assign(st, { started: Number(at), rc: Number(rc) });
    }
  }
  return out;
}

/** A libvirt lifecycle event of a lab host (`virsh event --loop`), or the host's power cut. */
export interface Lifecycle {
  host: string;
  /** ms since the epoch (virsh's --timestamp; the lab's clock for a power cut). */
  at: number;
  /** The domain, or null for a power cut (every domain of the host stops). */
  vm: string | null;
  /**
   * Started, Stopped, Suspended, Resumed, ...; `PowerCut` for a power cut by the lab, `StreamEnd`
   * when the host's event stream ended (its libvirtd died: a power cut or a fence).
   */
  event: string;
}

/** `2026-01-01 12:00:00.123+0000: event 'lifecycle' for domain 'vm14': Started Booted` -> Lifecycle. */
export function parseLifecycle(host: string, line: string): Lifecycle | null {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+)([+-]\d\d)(\d\d): event 'lifecycle' for domain '?([^':]+)'?: (\w+)/.exec(line);
  if (!m) return null;
  const at = Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`);
  return Number.isFinite(at) ? { host, at, vm: m[5]!, event: m[6]! } : null;
}

export interface HypervisorOptions {
  name: string;
  /** ADDR/PREFIX in 10.77.0.0/16 (on the host's br0). */
  addr: string;
  /** Where this host keeps its libvirt state, ssh keys and logs. */
  dir: string;
  /** Public key allowed to log in as root (3rc's). */
  authorizedKey: string;
  /** Where the host's lifecycle events go (HypervisorHost.onLifecycle). */
  onLifecycle?: (e: Lifecycle) => void;
}

export class HypervisorHost {
  private holder: ChildProcess | null = null;
  private gmondTo: string | null = null;
  /** Where every lifecycle event of the host's domains goes (the double-start watch). */
  onLifecycle: ((e: Lifecycle) => void) | null = null;

  private constructor(
    private readonly net: LabNetwork,
    readonly name: string,
    readonly ns: string,
    readonly ip: string,
    readonly dir: string,
    /** `ADDR ssh-ed25519 KEY`, for 3rc's known_hosts. */
    readonly knownHostsLine: string,
  ) {}

  static async start(net: LabNetwork, opts: HypervisorOptions): Promise<HypervisorHost> {
    const ip = opts.addr.split('/')[0]!;
    const ns = net.addHost(opts.name, opts.addr, { bridge: true });
    const dir = opts.dir;
    for (const d of HOST_DIRS) mkdirSync(ownCopy(dir, d), { recursive: true });
    writeFileSync(join(dir, 'etc_libvirt', 'qemu.conf'), `${QEMU_CONF}\n`);
    writeFileSync(join(dir, 'etc_libvirt', 'libvirtd.conf'), 'unix_sock_rw_perms = "0770"\nlog_outputs = "3:stderr"\n');
    mkdirSync(join(dir, 'ssh'), { recursive: true });
    const hostKey = join(dir, 'ssh', 'ssh_host_ed25519_key');
    if (!existsSync(hostKey)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${opts.name}`, '-f', hostKey]);
    writeFileSync(join(dir, 'ssh', 'authorized_keys'), `${opts.authorizedKey.trim()}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'sshd_config'), [
      `ListenAddress ${ip}`, 'Port 22', `HostKey ${hostKey}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'ssh', 'authorized_keys')}`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
      'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PrintMotd no', 'LogLevel ERROR',
    ].join('\n') + '\n');
    const host = new HypervisorHost(net, opts.name, ns, ip, dir, `${ip} ${readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ')}`);
    host.onLifecycle = opts.onLifecycle ?? null;
    mkdirSync(host.ctl, { recursive: true });
    writeFileSync(join(dir, 'virsh.real'), ''); // a mount point for the real virsh
    writeFileSync(join(dir, 'virsh-wrapper'), virshWrapper(join(dir, 'virsh.real'), host.ctl), { mode: 0o755 });
    writeFileSync(join(dir, 'loadavg'), '');
    await host.powerOn();
    return host;
  }

  /**
   * Boots the host: fresh mount and UTS namespaces (a new /run), libvirtd and sshd, and gmond
   * again when it ran before. Its libvirt state (defined domains) is kept in `dir`, so a host
   * that was killed comes back knowing its VMs, all shut off, like a server after a power cut.
   */
  async powerOn(): Promise<void> {
    // The holder keeps the host's mount and UTS namespaces alive; everything else enters them.
    this.holder = this.net.spawn(this.ns, 'unshare', ['--mount', '--uts', '--propagation', 'private', 'sleep', 'infinity'], { stdio: 'ignore' });
    await this.waitHolder();
    const mounts = [
      'mount -t tmpfs tmpfs /run', 'mkdir -p /run/sshd /run/libvirt', ...HOST_DIRS.map((d) => `mount --bind ${ownCopy(this.dir, d)} ${d}`), `hostname ${this.name}`,
      // The virsh wrapper, for this host only (3rc's virsh over SSH and the lab's own calls).
      `mount --bind /usr/bin/virsh ${join(this.dir, 'virsh.real')}`, `mount --bind ${join(this.dir, 'virsh-wrapper')} /usr/bin/virsh`,
    ];
    this.sh(mounts.join(' && '));
    this.exec('/usr/sbin/libvirtd', ['-d', '-p', '/run/libvirtd.pid']);
    this.exec('/usr/sbin/sshd', ['-f', join(this.dir, 'sshd_config')]);
    // libvirtd probes qemu's capabilities once (~4 s) before it answers.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        this.virsh(['version']);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${this.name}: libvirtd did not answer in 60 s: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    this.watchLifecycle();
    if (this.gmondTo) this.startGmond(this.gmondTo);
  }

  /** The wrapper's control directory (mode file, release file, starts.log). */
  get ctl(): string {
    return join(this.dir, 'virsh-ctl');
  }

  /** What the host's virsh does with the next starts; a new mode forgets an earlier release. */
  setStartMode(mode: StartMode): void {
    rmSync(join(this.ctl, 'release'), { force: true });
    if (mode === 'pass') rmSync(join(this.ctl, 'start-mode'), { force: true });
    else writeFileSync(join(this.ctl, 'start-mode'), mode);
  }

  /** Lets held starts go on. */
  releaseStarts(): void {
    writeFileSync(join(this.ctl, 'release'), '');
  }

  /** Every `virsh start` the host's virsh saw (the lab's own included), oldest first. */
  starts(): SeenStart[] {
    const f = join(this.ctl, 'starts.log');
    return existsSync(f) ? parseStarts(readFileSync(f, 'utf8')) : [];
  }

  /**
   * Makes the host's load_five (its /proc/loadavg, bind-mounted in its own mount namespace, which
   * its gmond reads) `loadFive`; null gives it the machine's again.
   */
  setLoad(loadFive: number | null): void {
    const file = join(this.dir, 'loadavg');
    const mounted = () => this.sh('grep -c " /proc/loadavg " /proc/self/mounts || true').trim() !== '0';
    if (loadFive === null) {
      if (mounted()) this.sh('umount /proc/loadavg');
      return;
    }
    const v = loadFive.toFixed(2);
    writeFileSync(file, `${v} ${v} ${v} 1/100 1\n`);
    if (!mounted()) this.sh(`mount --bind ${file} /proc/loadavg`);
  }

  /** Follows libvirt's lifecycle events of the host's domains while libvirtd lives. */
  private watchLifecycle(): void {
    // stdbuf: each event as it happens, not when a pipe's buffer fills.
    const p = this.net.spawn(this.ns, 'nsenter', ['-t', String(this.holderPid()), '-m', '-u', '-n', 'stdbuf', '-oL', 'virsh', '-c', 'qemu:///system', 'event', '--all', '--loop', '--timestamp'], { stdio: ['ignore', 'pipe', 'ignore'] });
    createInterface({ input: p.stdout! }).on('line', (line) => {
      const e = parseLifecycle(this.name, line);
      if (e) this.onLifecycle?.(e);
    });
    // libvirtd gone (a power cut, a fence): from now on the host's domains are seen only in /proc.
    p.once('exit', () => this.onLifecycle?.({ host: this.name, at: Date.now(), vm: null, event: 'StreamEnd' }));
  }

  private async waitHolder(): Promise<void> {
    // unshare execs sleep: once /proc/PID/exe is sleep, the namespaces exist.
    const pid = this.holder!.pid!;
    for (let i = 0; i < 100; i++) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep') return;
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.name}: the namespace holder did not start`);
  }

  /** Starts a long-running command inside the host; it dies with the host (kill()). */
  spawn(cmd: string, args: string[]): ChildProcess {
    return this.net.spawn(this.ns, 'nsenter', ['-t', String(this.holderPid()), '-m', '-u', '-n', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** Starts gmond reporting this host's metrics to the collector at `collector`. */
  startGmond(collector: string): ChildProcess {
    this.gmondTo = collector;
    const conf = join(this.dir, 'gmond.conf');
    writeFileSync(conf, gmondConf({ hostName: this.name, cluster: 'lab', sendTo: collector }));
    return this.spawn('gmond', ['-c', conf, '-f']);
  }

  private holderPid(): number {
    if (!this.holder?.pid || this.holder.exitCode !== null || this.holder.signalCode !== null) throw new Error(`${this.name} is powered off`);
    return this.holder.pid;
  }

  /** Runs a command inside the host (its network, mount and UTS namespaces). */
  exec(cmd: string, args: string[], timeoutMs = 60_000): string {
    return execFileSync('nsenter', ['-t', String(this.holderPid()), '-m', '-u', '-n', cmd, ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  sh(script: string): string {
    return this.exec('sh', ['-c', script]);
  }

  virsh(args: string[]): string {
    return this.exec('virsh', ['-c', 'qemu:///system', ...args]);
  }

  /** Kills everything running in the host's namespaces (libvirtd, sshd, its qemu processes): a power cut. */
  kill(): void {
    this.onLifecycle?.({ host: this.name, at: Date.now(), vm: null, event: 'PowerCut' });
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /** Processes in this host's network namespace (the holder, libvirtd, sshd, qemu). */
  pids(): number[] {
    return execFileSync('ip', ['netns', 'pids', this.ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  }
}

export interface DomainSpec {
  name: string;
  mac: string;
  memoryMb: number;
  cpus: number;
  disk: string;
  serialLog: string;
  /** "No bootable device": SeaBIOS retries (PXE, then the disk) after this long. Default 5 s. */
  rebootTimeoutMs?: number;
}

/** libvirt domain XML of a lab VM: TCG, network boot first, then its disk; NIC on the host's br0. */
export function domainXml(d: DomainSpec): string {
  return p2vDomainXml({
    name: d.name, mac: d.mac, memoryMb: d.memoryMb, cpus: d.cpus, serialLog: d.serialLog, bridge: 'br0', domainType: 'qemu', firmware: 'bios',
    disks: [{ path: d.disk, target: 'vda', format: 'qcow2', cache: 'unsafe' }],
    ...(d.rebootTimeoutMs !== undefined ? { rebootTimeoutMs: d.rebootTimeoutMs } : {}),
  });
}
