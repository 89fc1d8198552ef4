/**
 * What the firmware lab tests (pxe-firmware.test.ts, arm64.test.ts) share: whether the boot files
 * are there, matchers over 3rc's boot trace, phase times, the report line.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { eui64LinkLocal } from '../../src/lib/net6.js';
import type { StoreEvent } from '../../src/store/store.js';
import { ROOT } from '../lib/serve.js';

/** Why the boot files are not there (boot/fetch.sh --check), or undefined. */
export function bootFilesMissing(): string | undefined {
  try {
    execFileSync(join(ROOT, 'boot', 'fetch.sh'), ['--check'], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `boot files missing (run boot/fetch.sh): ${String((err as { stdout?: Buffer }).stdout ?? '').trim()}`;
  }
}

export const ack = (e: StoreEvent) => e.kind === 'dhcp.request' && String(e.reason).startsWith('ack');
export const tftpDone = (file: string) => (e: StoreEvent) => e.kind === 'tftp.transfer' && e.data?.outcome === 'complete' && e.data?.file === file;
export const httpDone = (file: string) => (e: StoreEvent) => e.kind === 'http.file' && e.reason === 'complete' && e.data?.status === 200 && e.data?.file === `/boot/files/${file}`;

/** When a transfer ended, in s since t0: TFTP records its event at the end, HTTP at the start (with `ms`). */
export const endedAt = (e: StoreEvent, t0: number) => (e.at + (e.kind === 'http.file' ? Number(e.data?.ms ?? 0) : 0) - t0) / 1000;

export function report(name: string, phases: Record<string, number>): void {
  console.log(`# ${name} phase timings (s since power-on): ${Object.entries(phases).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
}

/**
 * When 3rc answered a router solicitation from `mac` (ms since the epoch, from its log), in order.
 * A solicitation comes from the host's EUI-64 link-local address, and names its MAC when it
 * carries the source link-layer option; the log line has one or the other.
 */
export function raAnsweredAt(serverLines: readonly string[], mac: string): number[] {
  const eui64 = eui64LinkLocal(mac)!;
  return serverLines
    .filter((l) => l.includes('answered a router solicitation') && (l.includes(`"mac":"${mac}"`) || l.includes(`"peer":"${eui64}"`)))
    .map((l) => Date.parse((JSON.parse(l) as { time: string }).time));
}
