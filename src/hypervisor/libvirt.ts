/**
 * The libvirt driver: `virsh` run over SSH on each hypervisor (like `ssh root@hv virsh ...`),
 * against its local daemon (qemu:///system by default). Running virsh there, rather than
 * libvirt's remote protocol from here, needs nothing on the hypervisor but sshd and virsh, and
 * uses the same host key check and credentials as every other SSH action.
 */
import { DriverError, DriverErrorCodes, type HypervisorDriver, type VmListing, type VmRunState } from './driver.js';
import { shQuote } from '../lib/command-template.js';
import { failureText, Remote, type RemoteOptions } from './remote.js';
import { MIGRATE_TIMEOUT_MS } from './command.js';
import { classifyVirshError, isMigrateFlag, isPlainDomainName, parseDomstate, parseVirshList, virshRunState } from './virsh.js';

/** The SSH runner and hypervisors, plus where virsh and libvirt are. */
export interface LibvirtDriverOptions extends RemoteOptions {
  /** libvirt URI on the hypervisor. Default: qemu:///system. */
  uri?: string;
  /** virsh command on the hypervisor. Default: virsh (found on the login PATH). */
  virsh?: string;
  /**
   * Where a live migration goes, as the source hypervisor reaches the destination: the
   * destination libvirtd's URI for the source's virsh, and the address qemu sends memory to.
   * Default: `qemu+ssh://USER@ADDRESS:PORT/system` from the destination's SSH settings in the
   * config, and its address; the source's root then needs an SSH key the destination accepts and
   * the destination's host key in its known_hosts.
   */
  migrateTo?: (dest: { name: string; address: string; user: string; port: number }) => { uri: string; address: string };
  /** Timeout of a `virsh migrate`. Default: 10 min. */
  migrateTimeoutMs?: number;
}

/** HypervisorDriver for libvirt hosts (`driver: libvirt`), virsh over SSH. */
export class LibvirtDriver implements HypervisorDriver {
  readonly kind = 'libvirt';
  private readonly remote: Remote;
  private readonly prefix: string;
  private readonly opts: LibvirtDriverOptions;

  constructor(opts: LibvirtDriverOptions) {
    this.opts = opts;
    this.remote = new Remote(opts);
    // LC_ALL=C: virsh translates its state names and messages, which we parse.
    this.prefix = `LC_ALL=C ${opts.virsh ?? 'virsh'} -c ${shQuote(opts.uri ?? 'qemu:///system')}`;
  }

  async reachable(host: string): Promise<boolean> {
    try {
      // `uri` connects to the daemon: an SSH login alone does not make a host we can drive.
      const r = await this.remote.run(host, `${this.prefix} uri`);
      return r.code === 0;
    } catch {
      return false;
    }
  }

  async listVms(host: string): Promise<VmListing[]> {
    const r = await this.virsh(host, 'list --all', null);
    return parseVirshList(r);
  }

  async vmState(host: string, vm: string): Promise<VmRunState> {
    const out = await this.virsh(host, 'domstate', vm);
    const state = parseDomstate(out);
    if (state === null) throw new DriverError(DriverErrorCodes.FAILED, host, `virsh domstate ${vm} on ${host} printed nothing`);
    return virshRunState(state);
  }

  async start(host: string, vm: string): Promise<void> {
    await this.virsh(host, 'start', vm);
  }

  async destroy(host: string, vm: string): Promise<void> {
    await this.virsh(host, 'destroy', vm, { notRunningOk: true });
  }

  /**
   * A hard power cycle: destroy, then start. Not `virsh reset`: that goes through qemu's monitor,
   * which a hung qemu (stopped, or stuck on its storage) never answers, so the reset would wait
   * forever; destroy kills the process (TERM, then KILL), which always works. A VM that is off
   * fails the destroy with "domain is not running" (NOT_RUNNING), as the contract asks.
   */
  async reset(host: string, vm: string): Promise<void> {
    await this.virsh(host, 'destroy', vm);
    await this.virsh(host, 'start', vm);
  }

  /**
   * `virsh migrate --live --persistent` run on the source: libvirt's client there drives both
   * daemons, and qemu sends the memory straight to the destination's qemu over TCP
   * (`--migrateuri tcp:ADDRESS`). The source keeps its (now inactive) definition, so that HA can
   * start the VM there again later. The result is read back from both hosts.
   */
  async migrate(host: string, vm: string, dest: string): Promise<void> {
    const d = this.remote.target(dest);
    if (!d) throw new DriverError(DriverErrorCodes.UNREACHABLE, dest, `${dest} is not a configured hypervisor`);
    if ((await this.vmState(host, vm)) === 'off') throw new DriverError(DriverErrorCodes.NOT_RUNNING, host, `${vm} is not running on ${host}`);
    if ((await this.vmState(dest, vm)) === 'running') throw new DriverError(DriverErrorCodes.ALREADY_RUNNING, dest, `${vm} already runs on ${dest}`);
    const to = this.opts.migrateTo?.({ name: dest, address: d.address, user: d.user, port: d.port }) ?? { uri: `qemu+ssh://${d.user}@${d.address}:${d.port}/system`, address: d.address };
    const tcp = to.address.includes(':') ? `tcp:[${to.address}]` : `tcp:${to.address}`;
    const flags = (this.opts.hypervisors.find((h) => h.name === host)?.migrateFlags ?? []).filter(isMigrateFlag);
    await this.virsh(host, ['migrate --live --persistent', ...flags].join(' '), vm, { args: `${shQuote(to.uri)} --migrateuri ${shQuote(tcp)}`, timeoutMs: this.opts.migrateTimeoutMs ?? MIGRATE_TIMEOUT_MS });
    const [src, dst] = [await this.vmState(host, vm), await this.vmState(dest, vm)];
    if (src !== 'off' || dst !== 'running') throw new DriverError(DriverErrorCodes.FAILED, host, `virsh migrate ${vm} ${host} -> ${dest} returned, but ${vm} is ${src} on ${host} and ${dst} on ${dest}`);
  }

  /**
   * Defines (or redefines) a domain from its XML (not part of the driver interface: `3rc p2v`).
   * The XML goes through a temporary file on the hypervisor, written from a here-document.
   */
  async define(host: string, xml: string): Promise<void> {
    const tag = '3RC_DOMAIN_XML_END';
    if (xml.split('\n').includes(tag)) throw new DriverError(DriverErrorCodes.FAILED, host, 'refusing domain XML that holds the here-document delimiter');
    const script = `f=$(mktemp) || exit 1\ncat >"$f" <<'${tag}'\n${xml}\n${tag}\n${this.prefix} define "$f"; rc=$?\nrm -f "$f"\nexit $rc`;
    const r = await this.remote.run(host, script);
    if (r.code !== 0) throw new DriverError(DriverErrorCodes.FAILED, host, `virsh define failed on ${host}: ${failureText(r)}`);
  }

  /** ACPI power button (not part of the driver interface): the guest shuts down if it listens. */
  async shutdown(host: string, vm: string): Promise<void> {
    await this.virsh(host, 'shutdown', vm, { notRunningOk: true });
  }

  /** Runs `virsh SUBCOMMAND [VM]`; returns stdout or throws the mapped DriverError. */
  private async virsh(host: string, sub: string, vm: string | null, o: { notRunningOk?: boolean; args?: string; timeoutMs?: number } = {}): Promise<string> {
    if (vm !== null && !isPlainDomainName(vm)) {
      throw new DriverError(DriverErrorCodes.FAILED, host, `refusing VM name ${JSON.stringify(vm)}: only letters, digits, '.', '_' and '-' are passed to virsh`);
    }
    const r = await this.remote.run(host, `${this.prefix} ${sub}${vm === null ? '' : ` ${shQuote(vm)}`}${o.args ? ` ${o.args}` : ''}`, o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs });
    if (r.code === 0) return r.stdout;
    const what = failureText(r);
    switch (r.code === 127 ? 'other' : classifyVirshError(r.stderr)) {
      case 'no-such-vm':
        throw new DriverError(DriverErrorCodes.NO_SUCH_VM, host, `${host} does not know ${vm}: ${what}`);
      case 'already-running':
        throw new DriverError(DriverErrorCodes.ALREADY_RUNNING, host, `${vm} already runs on ${host}`);
      case 'not-running':
        if (o.notRunningOk) return r.stdout;
        throw new DriverError(DriverErrorCodes.NOT_RUNNING, host, `${vm} is not running on ${host}`);
      case 'no-connection':
        // sshd answers but libvirtd does not: this host's VMs cannot be driven or read.
        throw new DriverError(DriverErrorCodes.UNREACHABLE, host, `libvirt on ${host} does not answer: ${what}`);
      default:
        throw new DriverError(DriverErrorCodes.FAILED, host, `virsh ${sub}${vm === null ? '' : ` ${vm}`} failed on ${host}: ${what}`);
    }
  }
}
