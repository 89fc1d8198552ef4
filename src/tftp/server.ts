/**
 * The TFTP server. Until the TFTP transfer machine lands (issue: TFTP server), it binds its port
 * and drops what it receives, logging it.
 */
import type { ServerConfig } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import { UdpShell } from '../lib/udp-shell.js';

export function createTftpServer(cfg: ServerConfig, log: Logger): UdpShell {
  return new UdpShell({ name: 'tftp', address: cfg.listen, port: cfg.port }, log.child({ server: 'tftp' }));
}
