/**
 * The command driver: each operation is a command template run over SSH on the hypervisor, so
 * that any tool with a command line (vim-cmd on ESXi, qm on Proxmox, xl on Xen, VBoxManage)
 * works by configuration. Templates run with /bin/sh on the hypervisor (see ssh.ts killable()),
 * so pipes and `&&` are allowed; placeholders are described in lib/command-template.ts, ready-made command
 * sets for qm, vim-cmd, xl and VBoxManage are in command-examples.ts.
 *
 * What the commands must do:
 * - `list` prints the VMs the hypervisor knows; each line matching `listPattern` (named groups
 *   `name` and `state`) is one VM, other lines (headers) are ignored.
 * - `state` prints the VM's state: the last non-empty line of its output, or the `state` group
 *   of `statePattern`'s first match.
 * - `start`, `stop` (hard power off), `reset` (hard reset) and the optional `shutdown` (ACPI)
 *   succeed with exit status 0.
 * A state matching `off` is off; one matching `running` is running; any other state counts as
 * running (a copy may exist: never start the VM elsewhere on a guess) and is logged.
 * A failed command (exit status not 0) is classified by matching its stderr and stdout against
 * `noSuchVm`, `alreadyRunning` and `notRunning`; exit status 126/127 (command not found) and
 * everything else are FAILED. Before start, stop and reset the driver reads the state, so
 * ALREADY_RUNNING, NOT_RUNNING and idempotent stop do not depend on the tool's messages.
 */
import { DriverError, DriverErrorCodes, type HypervisorDriver, type VmListing, type VmRunState } from './driver.js';
import { failureText, Remote, type RemoteOptions, type SshHypervisor } from './remote.js';
import type { RunResult } from './ssh.js';
import { renderTemplate, type CommandTemplate } from '../lib/command-template.js';
import { compileCommandSpec, type CommandSpec, type CommandTemplates, type CompiledCommands } from '../lib/command-spec.js';

/** A configured hypervisor with its command set. */
export interface CommandHypervisor extends SshHypervisor {
  command: CommandSpec;
}

/** The SSH runner, the hypervisors driven by commands, and the per-VM placeholder values. */
export interface CommandDriverOptions extends Omit<RemoteOptions, 'hypervisors'> {
  hypervisors: readonly CommandHypervisor[];
  /** Per-VM placeholder values, e.g. { vmid: '104' } from the inventory host's vars. */
  vars?: (vm: string) => Readonly<Record<string, string | number | undefined>> | undefined;
  /** Timeout of a `migrate` command. Default: 10 min. */
  migrateTimeoutMs?: number;
}

/** How long a live migration may take by default (it copies the VM's memory while it runs). */
export const MIGRATE_TIMEOUT_MS = 600_000;

/** HypervisorDriver for hosts driven by command templates (`driver: command`). */
export class CommandDriver implements HypervisorDriver {
  readonly kind = 'command';
  private readonly remote: Remote;
  private readonly hosts = new Map<string, CompiledCommands>();

  /** Throws TemplateError for a template or pattern that cannot work (a configuration error). */
  constructor(private readonly o: CommandDriverOptions) {
    this.remote = new Remote(o);
    for (const h of o.hypervisors) this.hosts.set(h.name, compileCommandSpec(h));
  }

  async reachable(host: string): Promise<boolean> {
    const c = this.hosts.get(host);
    if (!c) return false;
    try {
      const r = await this.remote.run(host, this.render(host, c, c.t.ping ?? c.t.list!, null));
      return r.code === 0;
    } catch {
      return false;
    }
  }

  async listVms(host: string): Promise<VmListing[]> {
    const c = this.must(host);
    const r = await this.exec(host, c, 'list', null);
    const out: VmListing[] = [];
    for (const line of r.stdout.split(/\r?\n/)) {
      const m = c.listRe.exec(line);
      const name = m?.groups?.['name'];
      const state = m?.groups?.['state'];
      if (name === undefined || state === undefined) continue;
      out.push({ name, state: this.classify(host, c, name, state) });
    }
    return out;
  }

  async vmState(host: string, vm: string): Promise<VmRunState> {
    const c = this.must(host);
    const r = await this.exec(host, c, 'state', vm);
    let state: string | undefined;
    if (c.stateRe) state = c.stateRe.exec(r.stdout)?.groups?.['state'];
    else state = r.stdout.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '').at(-1);
    if (state === undefined) throw new DriverError(DriverErrorCodes.FAILED, host, `state of ${vm} on ${host}: no state in the output of ${JSON.stringify(c.t.state!.source)}: ${failureText(r)}`);
    return this.classify(host, c, vm, state);
  }

  async start(host: string, vm: string): Promise<void> {
    const c = this.must(host);
    if ((await this.vmState(host, vm)) === 'running') throw new DriverError(DriverErrorCodes.ALREADY_RUNNING, host, `${vm} already runs on ${host}`);
    await this.exec(host, c, 'start', vm);
  }

  async destroy(host: string, vm: string): Promise<void> {
    const c = this.must(host);
    if ((await this.vmState(host, vm)) === 'off') return;
    await this.exec(host, c, 'stop', vm, { notRunningOk: true });
  }

  async reset(host: string, vm: string): Promise<void> {
    const c = this.must(host);
    if ((await this.vmState(host, vm)) === 'off') throw new DriverError(DriverErrorCodes.NOT_RUNNING, host, `${vm} is not running on ${host}`);
    await this.exec(host, c, 'reset', vm);
  }

  /**
   * The `migrate` template, run on the source; FAILED unless the VM then runs on `dest` and no
   * longer on `host` (read back from both). MIGRATION_UNSUPPORTED when no template is set.
   */
  async migrate(host: string, vm: string, dest: string): Promise<void> {
    const c = this.must(host);
    const d = this.must(dest);
    if (!c.t.migrate) throw new DriverError(DriverErrorCodes.MIGRATION_UNSUPPORTED, host, `no migrate command configured for ${host}`);
    if ((await this.vmState(host, vm)) === 'off') throw new DriverError(DriverErrorCodes.NOT_RUNNING, host, `${vm} is not running on ${host}`);
    if ((await this.vmState(dest, vm)) === 'running') throw new DriverError(DriverErrorCodes.ALREADY_RUNNING, dest, `${vm} already runs on ${dest}`);
    await this.exec(host, c, 'migrate', vm, {}, { dest, destAddress: d.address });
    const [src, dst] = [await this.vmState(host, vm), await this.vmState(dest, vm)];
    if (src !== 'off' || dst !== 'running') throw new DriverError(DriverErrorCodes.FAILED, host, `migrate ${vm} ${host} -> ${dest} returned, but ${vm} is ${src} on ${host} and ${dst} on ${dest}`);
  }

  /** ACPI shutdown (not part of the driver interface); FAILED when no `shutdown` template is set. */
  async shutdown(host: string, vm: string): Promise<void> {
    const c = this.must(host);
    if (!c.t.shutdown) throw new DriverError(DriverErrorCodes.FAILED, host, `no shutdown command configured for ${host}`);
    await this.exec(host, c, 'shutdown', vm, { notRunningOk: true });
  }

  // ---- internals ----------------------------------------------------------------------------

  private must(host: string): CompiledCommands {
    const c = this.hosts.get(host);
    if (!c) throw new DriverError(DriverErrorCodes.UNREACHABLE, host, `${host} is not a configured hypervisor`);
    return c;
  }

  private classify(host: string, c: CompiledCommands, vm: string, state: string): VmRunState {
    const s = state.trim();
    if (c.off.test(s)) return 'off';
    if (!c.running.test(s)) this.remote.log?.warn({ hypervisor: host, vm, state: s }, 'unknown VM state counted as running');
    return 'running';
  }

  private render(host: string, c: CompiledCommands, t: CommandTemplate, vm: string | null, extra: Readonly<Record<string, string>> = {}): string {
    const values: Record<string, string | undefined> = { ...extra };
    if (vm !== null) {
      for (const [k, v] of Object.entries(this.o.vars?.(vm) ?? {})) if (v !== undefined) values[k] = String(v);
    }
    values['hypervisor'] = host;
    values['address'] = c.address;
    if (vm !== null) values['vm'] = vm;
    try {
      return renderTemplate(t, values);
    } catch (err) {
      throw new DriverError(DriverErrorCodes.FAILED, host, `${vm === null ? host : `${vm} on ${host}`}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async exec(host: string, c: CompiledCommands, op: keyof CommandTemplates, vm: string | null, o: { notRunningOk?: boolean } = {}, extra: Readonly<Record<string, string>> = {}): Promise<RunResult> {
    const t = c.t[op]!;
    const r = await this.remote.run(host, this.render(host, c, t, vm, extra), op === 'migrate' ? { timeoutMs: this.o.migrateTimeoutMs ?? MIGRATE_TIMEOUT_MS } : {});
    if (r.code === 0) return r;
    const text = `${r.stderr}\n${r.stdout}`;
    const what = failureText(r);
    if (r.code !== 126 && r.code !== 127 && vm !== null) {
      if (c.noSuchVm.test(text)) throw new DriverError(DriverErrorCodes.NO_SUCH_VM, host, `${host} does not know ${vm}: ${what}`);
      if (c.alreadyRunning.test(text)) throw new DriverError(DriverErrorCodes.ALREADY_RUNNING, host, `${vm} already runs on ${host}: ${what}`);
      if (c.notRunning.test(text)) {
        if (o.notRunningOk) return r;
        throw new DriverError(DriverErrorCodes.NOT_RUNNING, host, `${vm} is not running on ${host}: ${what}`);
      }
    }
    throw new DriverError(DriverErrorCodes.FAILED, host, `${op}${vm === null ? '' : ` ${vm}`} failed on ${host} (${JSON.stringify(t.source)}): ${what}`);
  }
}
