/**
 * Listens with the HTTP app; closes every connection on stop. Bounded (servers.http): at most
 * maxConnections open connections (more are closed at once), headers within headersTimeout and
 * a whole request within requestTimeout (both answered 408), checked every second at most.
 */
import http from 'node:http';
import type { Express } from 'express';
import type { HttpServerConfig } from '../config/schema.js';
import { listenTcp } from '../lib/bind.js';
import type { Service } from '../lib/service.js';

export class HttpServer implements Service {
  readonly name = 'http';
  private server: http.Server | undefined;

  constructor(private readonly cfg: Pick<HttpServerConfig, 'listen' | 'port' | 'maxConnections' | 'headersTimeout' | 'requestTimeout'>, private readonly app: Express) {}

  async start(): Promise<void> {
    const { requestTimeout } = this.cfg;
    // Node refuses headers allowed longer than the whole request.
    const headersTimeout = Math.min(this.cfg.headersTimeout, requestTimeout);
    const server = http.createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout, requestTimeout) }, this.app);
    server.keepAliveTimeout = 5_000;
    server.maxConnections = this.cfg.maxConnections;
    await listenTcp(server, { name: 'http', address: this.cfg.listen, port: this.cfg.port });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  addresses(): string[] {
    const a = this.server?.address();
    return a && typeof a === 'object' ? [`${a.address}:${a.port}/tcp`] : [];
  }
}
