/**
 * The DHCP server. Until the DHCPv4 codec and policy land (issue: DHCPv4 server for PXE), it binds
 * its port with broadcast enabled and drops what it receives, logging it.
 */
import type { ServerConfig } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import { UdpShell } from '../lib/udp-shell.js';

export function createDhcpServer(cfg: ServerConfig, log: Logger): UdpShell {
  return new UdpShell({ name: 'dhcp', address: cfg.listen, port: cfg.port }, log.child({ server: 'dhcp' }), { broadcast: true });
}
