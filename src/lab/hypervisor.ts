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
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

export interface HypervisorOptions {
  name: string;
  /** ADDR/PREFIX in 10.77.0.0/16 (on the host's br0). */
  addr: string;
  /** Where this host keeps its libvirt state, ssh keys and logs. */
  dir: string;
  /** Public key allowed to log in as root (3rc's). */
  authorizedKey: string;
}

export class HypervisorHost {
  private holder: ChildProcess | null = null;
  private gmondTo: string | null = null;

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
    const mounts = ['mount -t tmpfs tmpfs /run', 'mkdir -p /run/sshd /run/libvirt', ...HOST_DIRS.map((d) => `mount --bind ${ownCopy(this.dir, d)} ${d}`), `hostname ${this.name}`];
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
    if (this.gmondTo) this.startGmond(this.gmondTo);
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
