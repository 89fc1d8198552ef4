/**
 * Out-of-band fencing. A hypervisor with a `bmc:` is fenced through its BMC driver (bmc/): power
 * off, then the power state read back; only a read-back of "off" counts, anything else (an error,
 * a timeout, a state still on) is not "off", and the HA controller never starts the VM elsewhere
 * on it (ha/controller.ts fence()). The shell templates below stay for hypervisors without a BMC.
 *
 * Fencing by command: power the hypervisor off through its BMC (e.g. `ipmitool -I
 * lanplus -H {{bmc}} -U admin -f /etc/3rc/ipmi-pass chassis power off`), then read the power state
 * back (`... chassis power status`) and count the host as off only when the read-back says so.
 * The commands run on the 3rc host (the BMC network is usually reachable from there, not from the
 * hypervisor being fenced), through /bin/sh, with every placeholder substituted as one quoted
 * shell word ({{hypervisor}}, {{address}}, and the hypervisor's own `fence.vars`).
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../lib/log.js';
import type { Fencer } from './driver.js';
import { renderTemplate } from '../lib/command-template.js';
import { compileFence, type CompiledFence, type FencedHost } from '../lib/command-spec.js';
import { isBmcError, type BmcDriver, type BmcTarget } from '../bmc/driver.js';
import { openBmc } from '../bmc/open.js';
import type { Clock } from '../lib/clock.js';

/** Runs a shell command; resolves with its exit code and output (never rejects). */
export function runShell(command: string, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', command], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((err as unknown as { code: number }).code) : null) : 0;
      resolve({ code, out: `${stdout}${stderr}`.trim() });
    });
  });
}

export class CommandFencer implements Fencer {
  private readonly hosts = new Map<string, CompiledFence>();

  /** Throws TemplateError for a spec that cannot work (lib/command-spec.ts compileFence). */
  constructor(hosts: readonly FencedHost[], private readonly log?: Logger) {
    for (const h of hosts) this.hosts.set(h.name, compileFence(h));
  }

  /** Whether a host has a fence configured. */
  has(host: string): boolean {
    return this.hosts.has(host);
  }

  async fence(host: string): Promise<'off' | 'on' | 'unknown'> {
    const h = this.hosts.get(host);
    if (!h) return 'unknown';
    const off = await runShell(renderTemplate(h.off, h.values), h.timeoutMs);
    if (off.code !== 0) this.log?.warn({ hypervisor: host, code: off.code, output: off.out.slice(0, 500) }, 'fence: power-off command failed; reading the power state anyway');
    const st = await runShell(renderTemplate(h.status, h.values), h.timeoutMs);
    if (st.code !== 0) {
      this.log?.warn({ hypervisor: host, code: st.code, output: st.out.slice(0, 500) }, 'fence: power status unreadable');
      return 'unknown';
    }
    const result = h.offRe.test(st.out) ? 'off' : 'on';
    this.log?.info({ hypervisor: host, power: result, output: st.out.slice(0, 200) }, 'fence: power read back');
    return result;
  }
}

/** Fences through each hypervisor's BMC driver: power off, read back (the driver waits for off). */
export class BmcFencer implements Fencer {
  constructor(private readonly bmcs: ReadonlyMap<string, BmcDriver>, private readonly log?: Logger) {}

  has(host: string): boolean {
    return this.bmcs.has(host);
  }

  /** The driver kind of the host's BMC (ipmi, redfish); undefined without one. */
  kind(host: string): string | undefined {
    return this.bmcs.get(host)?.kind;
  }

  async fence(host: string): Promise<'off' | 'on' | 'unknown'> {
    const bmc = this.bmcs.get(host);
    if (!bmc) return 'unknown';
    try {
      const power = await bmc.power('off');
      this.log?.info({ hypervisor: host, power, bmc: bmc.kind }, 'fence: power read back through the BMC');
      return power;
    } catch (err) {
      // The off may have landed or not: unknown, never "off".
      this.log?.warn({ hypervisor: host, bmc: bmc.kind, code: isBmcError(err) ? err.code : undefined, err: (err as Error)?.message }, 'fence: BMC power-off or read-back failed; outcome unknown');
      return 'unknown';
    }
  }
}

/** The BMC when a hypervisor has one (the default), else its fence commands; null when none has either. */
export class HostFencer implements Fencer {
  constructor(private readonly byBmc: BmcFencer, private readonly byCommand: CommandFencer) {}

  fence(host: string): Promise<'off' | 'on' | 'unknown'> {
    return this.byBmc.has(host) ? this.byBmc.fence(host) : this.byCommand.fence(host);
  }

  /** "its BMC (ipmi)" or "its fence command"; undefined for a host with neither. */
  via(host: string): string | undefined {
    const kind = this.byBmc.kind(host);
    if (kind) return `its BMC (${kind})`;
    return this.byCommand.has(host) ? 'its fence command' : undefined;
  }
}

/**
 * The HA controller's fencer for these hypervisors: through the BMC where one is configured,
 * else the fence commands; null when no hypervisor has either. Throws for a fence template or a
 * BMC CA/password file that cannot work.
 */
export function buildFencer(
  hypervisors: readonly { name: string; address: string; fence?: (Omit<FencedHost['fence'], 'timeoutMs'> & { timeout: number }) | undefined; bmc?: Omit<BmcTarget, 'host'> | undefined }[],
  opts: { log?: Logger; clock?: Clock; bmcOf?: (name: string) => BmcDriver | undefined } = {},
): Fencer | null {
  const bmcs = new Map<string, BmcDriver>();
  // The process's shared driver when given (bmc/registry.ts), so that fencing and `3rc hv` use one.
  for (const h of hypervisors) if (h.bmc) bmcs.set(h.name, opts.bmcOf?.(h.name) ?? openBmc({ ...h.bmc, host: h.name }, opts));
  const commands = hypervisors.flatMap((h) => (h.fence && !h.bmc ? [{ name: h.name, address: h.address, fence: { ...h.fence, timeoutMs: h.fence.timeout } }] : []));
  if (bmcs.size === 0 && commands.length === 0) return null;
  return new HostFencer(new BmcFencer(bmcs, opts.log), new CommandFencer(commands, opts.log));
}
