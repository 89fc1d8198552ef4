/**
 * Runs the real `3rc serve` inside a network namespace (DHCP on 0.0.0.0:67 there), for the
 * real-client tests and the benchmark. `ip netns exec` execs the command in place, so the child's
 * pid is 3rc's own and kill -9 reaches it.
 */
import { SERVE_ENV, SERVE_NODE_FLAGS } from '../../src/lib/node-flags.js';
import type { Lab } from '../lib/netns.js';
import { awaitReady, BIN, type LabConfig, type Served } from '../lib/serve.js';

export type NsServed = Served;

/** Starts 3rc in `ns` and resolves once it logged "3rc ready". */
export function serveInNetns(lab: Lab, ns: string, cfg: LabConfig, opts: { timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<NsServed> {
  const proc = lab.spawn(ns, process.execPath, [...SERVE_NODE_FLAGS, ...(opts.nodeArgs ?? []), BIN, 'serve', '--config', cfg.file], { env: { ...process.env, ...SERVE_ENV } });
  // Its HTTP listens inside the namespace, out of reach from here: no URL.
  return awaitReady(proc, { url: `netns:${ns}`, timeoutMs: opts.timeoutMs });
}
