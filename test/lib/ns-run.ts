/** Runs a command inside a network namespace without blocking the event loop (a served 3rc's output keeps draining). */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './serve.js';

export function nsRun(ns: string, cmd: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** In `ns`: a bridge br0 at 10.77.0.1/24 with the tap tap0 on it (a qemu's NIC), both up. */
export function bridgeWithTap(ns: string): void {
  execFileSync('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  execFileSync('ip', ['-n', ns, 'addr', 'add', '10.77.0.1/24', 'dev', 'br0']);
  execFileSync('ip', ['-n', ns, 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'tap0', 'master', 'br0']);
  for (const dev of ['tap0', 'br0']) execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);
}

/** Config for a 3rc served in a namespace (writeLabConfig changes): DHCP, HTTP and DNS on their ports there, no TFTP; this tree's boot files and kickstarts. */
export const NS_SERVED = {
  servers: {
    dhcp: { listen: '0.0.0.0', port: 67 },
    tftp: { enabled: false },
    http: { listen: '0.0.0.0', port: 80 },
    dns: { listen: '0.0.0.0', port: 53 },
  },
  paths: { boot: join(ROOT, 'boot'), kickstarts: join(ROOT, 'kickstarts') },
};
