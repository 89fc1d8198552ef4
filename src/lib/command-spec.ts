/**
 * The command sets (driver: command) and fence commands of the config, checked and compiled by
 * pure functions: the config check (config/load.ts) and the drivers (hypervisor/command.ts,
 * hypervisor/fence.ts) call the same ones, so a config that loads is one the drivers run.
 */
import { TemplateError } from './errors.js';
import { compileTemplate, type CommandTemplate } from './command-template.js';

/** The command templates of one hypervisor (syntax in command-template.ts). */
export interface CommandTemplates {
  list: string;
  state: string;
  start: string;
  stop: string;
  reset: string;
  shutdown?: string;
  /**
   * Live migration, run on the source hypervisor; `{{dest}}` and `{{destAddress}}` are the
   * destination's name and address (e.g. `qm migrate {{vmid}} {{dest}} --online`). Without it the
   * driver answers MIGRATION_UNSUPPORTED and a drain moves the VM cold.
   */
  migrate?: string;
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
const DEFAULT_PATTERNS = {
  listPattern: String.raw`^\s*(?<name>\S+)\s+(?<state>\S.*?)\s*$`,
  running: String.raw`^(running|on|powered on|poweredon|started|active|idle|blocked|paused|suspended|pmsuspended|in shutdown|stopping)$`,
  off: String.raw`^(off|shut off|shutoff|stopped|powered off|poweredoff|poweroff|halted|aborted|inactive|not running)$`,
  noSuchVm: String.raw`no such (vm|domain|machine|guest)|does not exist|unknown (vm|domain)|could not find a registered machine|invalid vmid|domain not found|failed to get domain|unable to find (a )?(vm|virtual machine)`,
  alreadyRunning: String.raw`already (running|active|started|powered on)|is already locked by a session|current state \(powered on\)`,
  notRunning: String.raw`not running|not active|is not powered on|not currently running|current state \(powered off\)`,
} as const;

/** A command set ready to run: templates parsed, patterns compiled. */
export interface CompiledCommands {
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

/**
 * Checks and compiles one hypervisor's command set, as the command driver runs it and as the
 * config check validates it; throws a TemplateError naming the hypervisor and the field.
 */
export function compileCommandSpec(h: { name: string; address: string; command: CommandSpec }): CompiledCommands {
  const spec = h.command;
  const where = (what: string) => `hypervisor ${h.name}: command.${what}`;
  const tpl = (key: keyof CommandTemplates, perVm: boolean): CommandTemplate | null => {
    const src = spec.commands[key];
    if (src === undefined) {
      if (key === 'shutdown' || key === 'ping' || key === 'migrate') return null;
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
      migrate: tpl('migrate', true),
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

export interface FenceSpec {
  /** Powers the host off. */
  off: string;
  /** Prints the power state. */
  status: string;
  /** Case-insensitive pattern of a status output that means off. Default: `\boff\b`. */
  offPattern?: string;
  /** Extra placeholder values (e.g. bmc: 10.77.9.2). */
  vars?: Record<string, string>;
  /** Per command. Default: 20 s. */
  timeoutMs?: number;
}

export interface FencedHost {
  name: string;
  address: string;
  fence: FenceSpec;
}

/** A fence spec ready to run. */
export interface CompiledFence {
  off: CommandTemplate;
  status: CommandTemplate;
  offRe: RegExp;
  values: Record<string, string>;
  timeoutMs: number;
}

/** Checks and compiles one hypervisor's fence commands; throws TemplateError (or SyntaxError for a bad offPattern). */
export function compileFence(h: FencedHost): CompiledFence {
  return {
    off: compileTemplate(h.fence.off),
    status: compileTemplate(h.fence.status),
    offRe: new RegExp(h.fence.offPattern ?? String.raw`\boff\b`, 'i'),
    values: { ...h.fence.vars, hypervisor: h.name, address: h.address },
    timeoutMs: h.fence.timeoutMs ?? 20_000,
  };
}
