/** Listens with the HTTP app; closes every connection on stop. */
import http from 'node:http';
import type { Express } from 'express';
import type { ServerConfig } from '../config/schema.js';
import { listenTcp } from '../lib/bind.js';
import type { Service } from '../lib/service.js';

export class HttpServer implements Service {
  readonly name = 'http';
  private server: http.Server | undefined;

  constructor(private readonly cfg: ServerConfig, private readonly app: Express) {}

  async start(): Promise<void> {
    const server = http.createServer(this.app);
    server.keepAliveTimeout = 5_000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 60_000;
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
