/**
 * Out-of-band fencing by command: power the hypervisor off through its BMC (e.g. `ipmitool -I
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
