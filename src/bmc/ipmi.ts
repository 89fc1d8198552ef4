/**
 * IPMI over LAN through `ipmitool -I lanplus` (IPMI 2.0, RMCP+). The password goes by file
 * (`-f`), never on the command line where `ps` shows it. ipmitool runs without a shell; its
 * output is parsed by the pure functions below.
 */
import { execFile } from 'node:child_process';
import { BmcErrorCodes } from '../lib/errors.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { BmcError, cycle, expectedAfter, readBack, type BmcDriver, type BmcHealth, type BootTarget, type PowerAction, type PowerState } from './driver.js';

export interface IpmiOptions {
  /** Inventory name of the machine (in errors and logs). */
  host: string;
  /** BMC address, host or host:port (default port 623). */
  address: string;
  user: string;
  passwordFile: string;
  /** Runs ipmitool with these arguments (tests inject a recorder); default: the real one. */
  run?: (args: string[]) => Promise<ToolResult>;
  /** ipmitool binary. Default: ipmitool (PATH). */
  tool?: string;
  /** Per ipmitool run. Default 20 s. */
  timeoutMs?: number;
  /** ipmitool's own -R (retries) and -N (seconds per try). Default 2 and 2. */
  retries?: number;
  perTrySeconds?: number;
  /**
   * ipmitool -C: the RMCP+ cipher suite. Default: none given, ipmitool asks the BMC for its
   * suites (ipmi_sim does not answer that: tests give 3, HMAC-SHA1 with AES-128).
   */
  cipherSuite?: number;
  clock?: Clock;
  settleMs?: number;
  intervalMs?: number;
}

export interface ToolResult {
  /** Exit code; null when it was killed (timeout) or could not run. */
  code: number | null;
  out: string;
}

/** Splits host:port or [v6]:port (a bare IPv6 address has no port). */
export function splitAddress(address: string, defaultPort: number): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : defaultPort };
  const withPort = /^([^:]+):(\d+)$/.exec(address);
  if (withPort) return { host: withPort[1]!, port: Number(withPort[2]) };
  return { host: address, port: defaultPort };
}

/** `chassis power status`: "Chassis Power is on". */
export function parsePowerStatus(out: string): PowerState | null {
  const m = /Chassis Power is (on|off)\b/i.exec(out);
  return m ? (m[1]!.toLowerCase() as PowerState) : null;
}

/** `chassis status`: the fault flags that are set ("Main Power Fault : true" → "Main Power Fault"). */
export function parseChassisFaults(out: string): { power: PowerState | null; faults: string[] } {
  const faults: string[] = [];
  let power: PowerState | null = null;
  for (const line of out.split('\n')) {
    const m = /^\s*([^:]+?)\s*:\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (/^system power$/i.test(key)) power = /^on$/i.test(value) ? 'on' : /^off$/i.test(value) ? 'off' : null;
    else if (/(fault|overload)$/i.test(key) && /^true$/i.test(value)) faults.push(key);
    else if (/^(chassis intrusion|power interlock)$/i.test(key) && /^active$/i.test(value)) faults.push(key);
  }
  return { power, faults };
}

/** `sel info`: the number of entries. */
export function parseSelEntries(out: string): number | null {
  const m = /^\s*Entries\s*:\s*(\d+)/im.exec(out);
  return m ? Number(m[1]) : null;
}

/** `sel elist`: the event lines ("   1 | 12/07/2026 | 10:00:00 | Temperature #0x30 | ..."). */
export function parseSelList(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[0-9a-f]+\s*\|/i.test(l));
}

/** `chassis bootparam get 5`: the device the next boot is forced to, and whether only once. */
export function parseBootParam(out: string): { device: string | null; once: boolean } {
  const dev = /Boot Device Selector\s*:\s*(.+?)\s*$/im.exec(out);
  return { device: dev ? dev[1]! : null, once: /apply to only next boot/i.test(out) };
}

/** ipmitool's noise before every lanplus answer from some BMCs. */
const NOISE = /^Unable to Get Channel Cipher Suites\s*$/gm;
const NO_SESSION = /Unable to establish|Error: no response|Get Session Challenge command failed|Activate Session|RAKP|Insufficient privilege|Authentication type|Unable to open|Error: Unable to/i;

function runTool(tool: string, timeoutMs: number): (args: string[]) => Promise<ToolResult> {
  return (args) =>
    new Promise((resolve) => {
      execFile(tool, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : null) : 0;
        const out = `${stdout}${stderr}`.replace(NOISE, '').trim();
        resolve({ code, out: code === null && err && !out ? err.message : out });
      });
    });
}

export class IpmiDriver implements BmcDriver {
  readonly kind = 'ipmi';
  private readonly run: (args: string[]) => Promise<ToolResult>;
  private readonly base: string[] = [];
  private readonly clock: Clock;

  constructor(private readonly o: IpmiOptions) {
    this.run = o.run ?? runTool(o.tool ?? 'ipmitool', o.timeoutMs ?? 20_000);
    const { host, port } = splitAddress(o.address, 623);
    this.base = ['-I', 'lanplus', '-H', host, '-p', String(port), '-U', o.user, '-f', o.passwordFile, '-R', String(o.retries ?? 2), '-N', String(o.perTrySeconds ?? 2)];
    if (o.cipherSuite !== undefined) this.base.push('-C', String(o.cipherSuite));
    this.clock = o.clock ?? systemClock;
  }

  /** Runs one ipmitool command; throws a BmcError unless it exits 0. */
  private async tool(...args: string[]): Promise<string> {
    const r = await this.run([...this.base, ...args]);
    if (r.code === 0) return r.out;
    const what = `ipmitool ${args.join(' ')}`;
    if (r.code === null) throw new BmcError(BmcErrorCodes.UNREACHABLE, this.o.host, `${what}: no answer in time (${r.out.slice(0, 200)})`);
    if (NO_SESSION.test(r.out)) throw new BmcError(BmcErrorCodes.UNREACHABLE, this.o.host, `${what}: no session with the BMC at ${this.o.address} (${r.out.slice(0, 200)})`);
    throw new BmcError(BmcErrorCodes.FAILED, this.o.host, `${what} failed (exit ${r.code}): ${r.out.slice(0, 200)}`);
  }

  async powerState(): Promise<PowerState> {
    const out = await this.tool('chassis', 'power', 'status');
    const state = parsePowerStatus(out);
    if (!state) throw new BmcError(BmcErrorCodes.PROTOCOL, this.o.host, `chassis power status: unexpected output ${JSON.stringify(out.slice(0, 200))}`);
    return state;
  }

  async power(action: PowerAction): Promise<PowerState> {
    if (action === 'cycle') return cycle(this.o.host, (a) => this.power(a));
    await this.tool('chassis', 'power', action);
    return readBack(() => this.powerState(), expectedAfter(action), { clock: this.clock, settleMs: this.o.settleMs, intervalMs: this.o.intervalMs });
  }

  async bootOnce(target: BootTarget): Promise<void> {
    if (target !== 'pxe') throw new BmcError(BmcErrorCodes.UNSUPPORTED, this.o.host, `IPMI has no boot device for ${target}; use pxe`);
    // Without options=persistent the override is for the next boot only.
    await this.tool('chassis', 'bootdev', 'pxe');
    const back = parseBootParam(await this.tool('chassis', 'bootparam', 'get', '5'));
    if (!back.device || !/pxe/i.test(back.device)) throw new BmcError(BmcErrorCodes.FAILED, this.o.host, `boot device read back as ${back.device ?? 'nothing'}, not PXE`);
    if (!back.once) throw new BmcError(BmcErrorCodes.FAILED, this.o.host, 'boot override read back as persistent, not for the next boot only');
  }

  async health(): Promise<BmcHealth> {
    const chassis = parseChassisFaults(await this.tool('chassis', 'status'));
    if (!chassis.power) throw new BmcError(BmcErrorCodes.PROTOCOL, this.o.host, 'chassis status: no System Power line');
    const events = parseSelEntries(await this.tool('sel', 'info'));
    const recent = events ? parseSelList(await this.tool('sel', 'elist')).slice(-5) : [];
    return { power: chassis.power, faults: chassis.faults, events, recent };
  }
}
