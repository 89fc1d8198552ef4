/**
 * Another build of 3rc (the code before a change, e.g. a copy of dist/ and bin/ made before it),
 * started in a namespace as test/lib/serve.ts starts this one: the A/B knobs of the DHCP and storm
 * benches (DHCP_BENCH_BASE, BENCH_STORM_BASE, TFTP_BENCH_BASE) run it in the same rounds as this build.
 */
import type { ChildProcess } from 'node:child_process';
import { SERVE_NODE_FLAGS } from '../../src/lib/node-flags.js';
import type { Lab } from '../../test/lib/netns.js';
import { awaitReady, type LabConfig } from '../../test/lib/serve.js';
import type { Running } from './servers.js';

/** Starts `bin` (that build's bin/3rc.js) serving `cfg` inside ns, with node's own `nodeArgs` (e.g. --cpu-prof). */
export async function startBaseBuild(bin: string, lab: Lab, ns: string, cfg: LabConfig, nodeArgs: readonly string[] = []): Promise<Running & { proc: ChildProcess }> {
  const proc = lab.spawn(ns, process.execPath, [...SERVE_NODE_FLAGS, ...nodeArgs, bin, 'serve', '--config', cfg.file]);
  const served = await awaitReady(proc, { url: `netns:${ns}`, timeoutMs: 120_000 });
  return { pid: proc.pid!, proc, stop: async () => void (await served.stop()) };
}

/**
 * The namespace's kernel UDP counter of datagrams dropped because a socket's receive buffer was
 * full (/proc/net/snmp, Udp RcvbufErrors): where a server that reads too slowly loses packets.
 */
export function udpRcvbufErrors(lab: Lab, ns: string): number {
  const lines = lab.exec(ns, 'cat', ['/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Udp: '));
  const names = lines[0]!.split(' ');
  return Number(lines[1]!.split(' ')[names.indexOf('RcvbufErrors')]);
}
