/**
 * The command driver: each operation is a command template run over SSH on the hypervisor, so
 * that any tool with a command line (vim-cmd on ESXi, qm on Proxmox, xl on Xen, VBoxManage)
 * works by configuration. Templates run with /bin/sh on the hypervisor (see ssh.ts killable()),
 * so pipes and `&&` are allowed; placeholders are described in template.ts, ready-made command
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
import { TemplateError } from '../lib/errors.js';
import { compileTemplate, renderTemplate, type CommandTemplate } from './template.js';

/** The command templates of one hypervisor (syntax in template.ts). */
export interface CommandTemplates {
  list: string;
  state: string;
  start: string;
  stop: string;
  reset: string;
  shutdown?: string;
  /** Succeeds when the hypervisor can be driven (reachable()). Default: the `list` command. */
  ping?: string;
}

/** One hypervisor's command set; patterns are case-insensitive JavaScript regular expressions. */
export interface CommandSpec {
  commands: CommandTemplates;
  /** Default: `^\s*(?<name>\S+)\s+(?<state>\S.*?)\s*$` (a name, then the state). */
  listPattern?: string;
  /** Default: none (the last non-empty line of the output is the state). */
  statePattern?: string;
  /** States meaning running. Default: see DEFAULT_PATTERNS. */
  running?: string;
  off?: string;
  noSuchVm?: string;
  alreadyRunning?: string;
  notRunning?: string;
}

/** Patterns used when a CommandSpec leaves one unset; they cover virsh, qm, vim-cmd, xl and VBoxManage wording. */
export const DEFAULT_PATTERNS = {
  listPattern: String.raw`^\s*(?<name>\S+)\s+(?<state>\S.*?)\s*$`,
  running: String.raw`^(running|on|powered on|poweredon|started|active|idle|blocked|paused|suspended|pmsuspended|in shutdown|stopping)$`,
  off: String.raw`^(off|shut off|shutoff|stopped|powered off|poweredoff|poweroff|halted|aborted|inactive|not running)$`,
  noSuchVm: String.raw`no such (vm|domain|machine|guest)|does not exist|unknown (vm|domain)|could not find a registered machine|invalid vmid|domain not found|failed to get domain|unable to find (a )?(vm|virtual machine)`,
  alreadyRunning: String.raw`already (running|active|started|powered on)|is already locked by a session|current state \(powered on\)`,
  notRunning: String.raw`not running|not active|is not powered on|not currently running|current state \(powered off\)`,
} as const;


/** A configured hypervisor with its command set. */
export interface CommandHypervisor extends SshHypervisor {
  command: CommandSpec;
}

/** The SSH runner, the hypervisors driven by commands, and the per-VM placeholder values. */
export interface CommandDriverOptions extends Omit<RemoteOptions, 'hypervisors'> {
  hypervisors: readonly CommandHypervisor[];
  /** Per-VM placeholder values, e.g. { vmid: '104' } from the inventory host's vars. */
  vars?: (vm: string) => Readonly<Record<string, string | number | undefined>> | undefined;
}

interface Compiled {
  address: string;
  t: { [K in keyof CommandTemplates]-?: CommandTemplate | null };
  listRe: RegExp;
  stateRe: RegExp | null;
  running: RegExp;
  off: RegExp;
  noSuchVm: RegExp;
  alreadyRunning: RegExp;
  notRunning: RegExp;
}

/** HypervisorDriver for hosts driven by command templates (`driver: command`). */
export class CommandDriver implements HypervisorDriver {
  readonly kind = 'command';
  private readonly remote: Remote;
  private readonly hosts = new Map<string, Compiled>();

  /** Throws TemplateError for a template or pattern that cannot work (a configuration error). */
  constructor(private readonly o: CommandDriverOptions) {
    this.remote = new Remote(o);
    for (const h of o.hypervisors) this.hosts.set(h.name, compile(h));
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

  /** ACPI shutdown (not part of the driver interface); FAILED when no `shutdown` template is set. */
  async shutdown(host: string, vm: string): Promise<void> {
    const c = this.must(host);
    if (!c.t.shutdown) throw new DriverError(DriverErrorCodes.FAILED, host, `no shutdown command configured for ${host}`);
    await this.exec(host, c, 'shutdown', vm, { notRunningOk: true });
  }

  // ---- internals ----------------------------------------------------------------------------

  private must(host: string): Compiled {
    const c = this.hosts.get(host);
    if (!c) throw new DriverError(DriverErrorCodes.UNREACHABLE, host, `${host} is not a configured hypervisor`);
    return c;
  }

  private classify(host: string, c: Compiled, vm: string, state: string): VmRunState {
    const s = state.trim();
    if (c.off.test(s)) return 'off';
    if (!c.running.test(s)) this.remote.log?.warn({ hypervisor: host, vm, state: s }, 'unknown VM state counted as running');
    return 'running';
  }

  private render(host: string, c: Compiled, t: CommandTemplate, vm: string | null): string {
    const values: Record<string, string | undefined> = {};
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

  private async exec(host: string, c: Compiled, op: keyof CommandTemplates, vm: string | null, o: { notRunningOk?: boolean } = {}): Promise<RunResult> {
    const t = c.t[op]!;
    const r = await this.remote.run(host, this.render(host, c, t, vm));
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

function compile(h: CommandHypervisor): Compiled {
  const spec = h.command;
  const where = (what: string) => `hypervisor ${h.name}: command.${what}`;
  const tpl = (key: keyof CommandTemplates, perVm: boolean): CommandTemplate | null => {
    const src = spec.commands[key];
    if (src === undefined) {
      if (key === 'shutdown' || key === 'ping') return null;
      throw new TemplateError(`${where(`commands.${key}`)}: missing`);
    }
    let t: CommandTemplate;
    try {
      t = compileTemplate(src);
    } catch (err) {
      throw new TemplateError(`${where(`commands.${key}`)}: ${(err as Error).message}`);
    }
    // list and ping run for the whole host: only the host's own values exist there.
    const bad = perVm ? [] : t.names.filter((n) => n !== 'hypervisor' && n !== 'address');
    if (bad.length > 0) throw new TemplateError(`${where(`commands.${key}`)}: {{${bad[0]}}} is per VM; only {{hypervisor}} and {{address}} can be used here`);
    return t;
  };
  const re = (key: keyof typeof DEFAULT_PATTERNS | 'statePattern', flags: string): RegExp => {
    const src = spec[key] ?? (key === 'statePattern' ? undefined : DEFAULT_PATTERNS[key]);
    try {
      return new RegExp(src!, flags);
    } catch (err) {
      throw new TemplateError(`${where(key)}: not a regular expression: ${(err as Error).message}`);
    }
  };
  const listRe = re('listPattern', 'i');
  const stateRe = spec.statePattern === undefined ? null : re('statePattern', 'im');
  for (const [k, r] of [['listPattern', listRe], ['statePattern', stateRe]] as const) {
    if (r && !r.source.includes('(?<state>')) throw new TemplateError(`${where(k)}: needs a named group (?<state>...)`);
  }
  if (!listRe.source.includes('(?<name>')) throw new TemplateError(`${where('listPattern')}: needs a named group (?<name>...)`);
  return {
    address: h.address,
    t: {
      list: tpl('list', false),
      ping: tpl('ping', false),
      state: tpl('state', true),
      start: tpl('start', true),
      stop: tpl('stop', true),
      reset: tpl('reset', true),
      shutdown: tpl('shutdown', true),
    },
    listRe,
    stateRe,
    running: re('running', 'i'),
    off: re('off', 'i'),
    noSuchVm: re('noSuchVm', 'i'),
    alreadyRunning: re('alreadyRunning', 'i'),
    notRunning: re('notRunning', 'i'),
  };
}


/**
 * Checks one hypervisor's command set exactly as the driver will use it, for config validation
 * (`3rc check-config`); throws a TemplateError whose message names the hypervisor and the field.
 */
export function validateCommandSpec(h: CommandHypervisor): void {
  compile(h);
}
