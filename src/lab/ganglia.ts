/**
 * Ganglia in the lab (Debian's ganglia-monitor): a gmond on each hypervisor host sends its
 * metrics by unicast UDP to a collecting gmond beside 3rc, whose XML port (TCP 8649) 3rc's
 * Ganglia monitor reads (ha.ganglia). Pure: configuration text only; the lab starts the daemons.
 *
 * Every host of the lab shares this machine's kernel, so load_five is the machine's load on
 * every hypervisor: a test sets loadThreshold accordingly.
 */

export const GMOND_PORT = 8649;

export interface GmondOptions {
  /** The name it reports (gmond would otherwise use its address's reverse name). */
  hostName: string;
  cluster: string;
  /** Unicast destination of its metrics; none for a collector that only listens. */
  sendTo?: string;
  /** A collector: the address it receives on, and it serves the XML on TCP GMOND_PORT. */
  collectOn?: string;
  /** Seconds between load reports (default 5: the lab wants fresh numbers). */
  every?: number;
}

export function gmondConf(o: GmondOptions): string {
  const every = o.every ?? 5;
  const q = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
  const parts = [
    'globals {',
    '  daemonize = no',
    '  setuid = no',
    '  debug_level = 0',
    `  mute = ${o.sendTo ? 'no' : 'yes'}`,
    `  deaf = ${o.collectOn ? 'no' : 'yes'}`,
    '  host_dmax = 0',
    '  cleanup_threshold = 300',
    '  gexec = no',
    // Unicast receivers learn metric metadata only from these announcements.
    `  send_metadata_interval = ${every * 2}`,
    `  override_hostname = ${q(o.hostName)}`,
    '}',
    `cluster { name = ${q(o.cluster)} }`,
    'host { location = "lab" }',
  ];
  if (o.sendTo) parts.push(`udp_send_channel { host = ${o.sendTo} port = ${GMOND_PORT} ttl = 1 }`);
  if (o.collectOn) {
    parts.push(`udp_recv_channel { bind = ${o.collectOn} port = ${GMOND_PORT} }`);
    parts.push(`tcp_accept_channel { port = ${GMOND_PORT} }`);
  }
  parts.push(
    'modules {',
    '  module { name = "core_metrics" }',
    '  module { name = "load_module" path = "/usr/lib/x86_64-linux-gnu/ganglia/modload.so" }',
    '  module { name = "cpu_module" path = "/usr/lib/x86_64-linux-gnu/ganglia/modcpu.so" }',
    '}',
    'collection_group { collect_once = yes time_threshold = 20 metric { name = "cpu_num" } }',
    `collection_group { collect_every = ${every} time_threshold = ${every * 2} metric { name = "load_five" value_threshold = "0.0" } metric { name = "load_one" value_threshold = "0.0" } }`,
  );
  return parts.join('\n') + '\n';
}
