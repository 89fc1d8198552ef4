/**
 * What the two SSH drivers (libvirt, command) share: the hypervisor list from the config, one
 * SSH runner, and the mapping of SSH failures to driver error codes.
 *
 * A connection that could not be made (refused, connect timeout) is UNREACHABLE: the command never
 * ran, the host may be down, and the controller may fence it. A command that was sent but whose
 * result never came back (it timed out, the connection dropped) is UNKNOWN_OUTCOME: killing the
 * virsh client does not cancel libvirtd's work, so a `virsh start` that timed out may still be
 * starting the VM, and the controller must treat it as possibly running there. Host key, key and login problems, and a live server refusing to run
 * commands, are FAILED: they prove nothing about the host's power, they need an operator, and
 * fencing a host because its key changed would turn a configuration mistake into an outage.
 */
import type { Logger } from '../lib/log.js';
import { DriverError, DriverErrorCodes } from './driver.js';
import { isSshError, SshErrorCodes, type RunResult, type SshRunner, type SshTarget } from './ssh.js';

/** The part of a `hypervisors[]` config entry the SSH drivers read (structurally HypervisorConfig). */
export interface SshHypervisor {
  name: string;
  address: string;
  ssh: { user: string; port: number; key?: string | undefined; knownHosts?: string | undefined };
  /** libvirt only: extra `virsh migrate` flags of this (source) hypervisor. */
  migrateFlags?: readonly string[] | undefined;
  /**
   * Host keys learned from its latest install (a hypervisor 3rc installs, `3rc hv reinstall`):
   * they replace the known_hosts file's keys for it, as for VMs (ssh.ts).
   */
  learnedKeys?: SshTarget['learnedKeys'];
}

/** The SSH target of a configured hypervisor. */
function sshTarget(h: SshHypervisor): SshTarget {
  return { name: h.name, address: h.address, port: h.ssh.port, user: h.ssh.user, keyFile: h.ssh.key, knownHostsFile: h.ssh.knownHosts, ...(h.learnedKeys ? { learnedKeys: h.learnedKeys } : {}) };
}

/** What every SSH driver is built from. */
export interface RemoteOptions {
  ssh: SshRunner;
  hypervisors: readonly SshHypervisor[];
  /** Per command. Default: 30 s. */
  timeoutMs?: number;
  log?: Logger;
}

/** Hypervisor name -> SSH target, and commands run there with failures mapped to DriverErrors. */
export class Remote {
  private readonly targets = new Map<string, SshTarget>();
  readonly timeoutMs: number;

  constructor(private readonly o: RemoteOptions) {
    for (const h of o.hypervisors) this.targets.set(h.name, sshTarget(h));
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** A configured hypervisor's SSH target (its address, port and login), or undefined. */
  target(host: string): SshTarget | undefined {
    return this.targets.get(host);
  }

  get log(): Logger | undefined {
    return this.o.log;
  }

  /** Runs a command on a hypervisor; SSH failures become DriverErrors (see the module comment). */
  async run(host: string, command: string, o: { timeoutMs?: number } = {}): Promise<RunResult> {
    const t = this.targets.get(host);
    if (!t) throw new DriverError(DriverErrorCodes.UNREACHABLE, host, `${host} is not a configured hypervisor`);
    try {
      return await this.o.ssh.run(t, command, { timeoutMs: o.timeoutMs ?? this.timeoutMs });
    } catch (err) {
      if (isSshError(err)) this.o.log?.warn({ hypervisor: host, code: err.code, err: err.message }, 'hypervisor command failed over ssh');
      throw driverErrorOf(host, err);
    }
  }
}

/** The DriverError an SSH failure of a hypervisor command becomes (see the module comment). */
export function driverErrorOf(host: string, err: unknown): DriverError {
  if (!isSshError(err)) return new DriverError(DriverErrorCodes.FAILED, host, `${host}: ${(err as Error)?.message ?? err}`, { cause: err });
  if (err.code === SshErrorCodes.CONNECT) return new DriverError(DriverErrorCodes.UNREACHABLE, host, err.message, { cause: err });
  if (err.code === SshErrorCodes.TIMEOUT || err.code === SshErrorCodes.DROPPED) return new DriverError(DriverErrorCodes.UNKNOWN_OUTCOME, host, err.message, { cause: err });
  return new DriverError(DriverErrorCodes.FAILED, host, err.message, { cause: err });
}

/** stdout and stderr of a failed command, trimmed, for messages. */
export function failureText(r: RunResult): string {
  const text = `${r.stderr.trim()}\n${r.stdout.trim()}`.trim();
  return text.length > 500 ? `${text.slice(0, 497)}...` : text || `exit status ${r.code ?? r.signal}`;
}
