/**
 * The DNS server. Until the zone and its codec land (issue: DNS server), it binds UDP and TCP on
 * its port and drops what it receives, logging it.
 */
import net from 'node:net';
import type { ServerConfig } from '../config/schema.js';
import { listenTcp } from '../lib/bind.js';
import type { Logger } from '../lib/log.js';
import type { Service } from '../lib/service.js';
import { UdpShell } from '../lib/udp-shell.js';

export class DnsShell implements Service {
  readonly name = 'dns';
  private readonly udp: UdpShell;
  private tcp: net.Server | undefined;

  constructor(private readonly cfg: ServerConfig, private readonly log: Logger) {
    this.udp = new UdpShell({ name: 'dns', address: cfg.listen, port: cfg.port }, log);
  }

  async start(): Promise<void> {
    await this.udp.start();
    const tcp = net.createServer((conn) => {
      this.log.debug({ peer: `${conn.remoteAddress}:${conn.remotePort}`, reason: 'handler-not-implemented' }, 'dns: tcp connection closed');
      conn.destroy();
    });
    try {
      await listenTcp(tcp, { name: 'dns', address: this.cfg.listen, port: this.cfg.port });
    } catch (err) {
      await this.udp.stop();
      throw err;
    }
    this.tcp = tcp;
  }

  async stop(): Promise<void> {
    await this.udp.stop();
    const tcp = this.tcp;
    this.tcp = undefined;
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }

  addresses(): string[] {
    const out = this.udp.addresses();
    const a = this.tcp?.address();
    if (a && typeof a === 'object') out.push(`${a.address}:${a.port}/tcp`);
    return out;
  }
}

export function createDnsServer(cfg: ServerConfig, log: Logger): DnsShell {
  return new DnsShell(cfg, log.child({ server: 'dns' }));
}
