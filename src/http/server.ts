/**
 * Listens with the HTTP app; closes every connection on stop. Bounded (servers.http): at most
 * maxConnections open connections per listener (more are closed at once), headers within
 * headersTimeout and a whole request within requestTimeout (both answered 408), checked every
 * second at most. With IPv6 (network.ipv6, or servers.http.listen6) a second listener serves the
 * same app on the IPv6 address (`::` by default, IPv6 only), beside servers.http.listen.
 */
import http from 'node:http';
import type { Express } from 'express';
import type { HttpServerConfig } from '../config/schema.js';
import { listenTcp } from '../lib/bind.js';
import { hostPort } from '../lib/net.js';
import type { Service } from '../lib/service.js';

export class HttpServer implements Service {
  readonly name = 'http';
  private servers: http.Server[] = [];

  /** `listen6`: the IPv6 address to serve on as well (lib/net.ts listen6Of), or none. */
  constructor(
    private readonly cfg: Pick<HttpServerConfig, 'listen' | 'port' | 'maxConnections' | 'headersTimeout' | 'requestTimeout'>,
    private readonly app: Express,
    private readonly listen6?: string,
  ) {}

  async start(): Promise<void> {
    try {
      for (const address of [this.cfg.listen, ...(this.listen6 ? [this.listen6] : [])]) {
        const server = this.create();
        await listenTcp(server, { name: 'http', address, port: this.cfg.port });
        this.servers.push(server);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private create(): http.Server {
    const { requestTimeout } = this.cfg;
    // Node refuses headers allowed longer than the whole request.
    const headersTimeout = Math.min(this.cfg.headersTimeout, requestTimeout);
    const server = http.createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout, requestTimeout) }, this.app);
    server.keepAliveTimeout = 5_000;
    server.maxConnections = this.cfg.maxConnections;
    return server;
  }

  async stop(): Promise<void> {
    const all = this.servers;
    this.servers = [];
    await Promise.all(
      all.map((server) => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        return closed;
      }),
    );
  }

  addresses(): string[] {
    return this.servers.flatMap((server) => {
      const a = server.address();
      return a && typeof a === 'object' ? [`${hostPort(a.address, a.port)}/tcp`] : [];
    });
  }
}
