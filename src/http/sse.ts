/**
 * Server-sent events to any number of dashboards. A client is forgotten the moment its connection
 * closes (nothing is kept per client but the response itself), one shared heartbeat runs only
 * while a client is connected, and a client that does not read (its socket buffer above
 * `maxBuffered`) is dropped instead of growing the process's memory; its browser reconnects and
 * reloads what it missed. At most `maxClients` are connected at once (the route answers 503 to
 * more: see `full`).
 */

/** What the hub needs of a response: express's Response fits. */
export interface SseSink {
  write(chunk: string): boolean;
  end(): void;
  readonly writableLength: number;
  on(event: 'close', fn: () => void): unknown;
}

export interface SseHubOptions {
  /** Interval of the `: heartbeat` comment that keeps proxies and browsers from timing out. */
  heartbeatMs?: number;
  /** Bytes waiting in a client's socket buffer above which it is dropped. */
  maxBuffered?: number;
  /** The reconnection delay browsers are told to use. */
  retryMs?: number;
  /** Clients connected at once, at most. Default: 64. */
  maxClients?: number;
}

/** One SSE message; `data` is sent as JSON on one line. */
export function formatSse(type: string, data: unknown, id?: number): string {
  const json = JSON.stringify(data);
  // JSON.stringify never emits a raw newline, so one data line carries the whole message.
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${type}\ndata: ${json}\n\n`;
}

export class SseHub {
  private readonly clients = new Set<SseSink>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private readonly o: Required<SseHubOptions>;
  /** Clients dropped for not reading, since start (for tests and logs). */
  dropped = 0;

  constructor(opts: SseHubOptions = {}) {
    this.o = { heartbeatMs: 15_000, maxBuffered: 1 << 20, retryMs: 3000, maxClients: 64, ...opts };
  }

  get size(): number {
    return this.clients.size;
  }

  /** True when no more clients are taken (maxClients are connected). */
  get full(): boolean {
    return this.clients.size >= this.o.maxClients;
  }

  /** True while the shared heartbeat timer runs (only with clients). */
  get beating(): boolean {
    return this.heartbeat !== null;
  }

  /** Adds a client whose headers were sent; `first` is written to it alone (its initial state). */
  add(sink: SseSink, first: string[] = []): void {
    this.clients.add(sink);
    sink.on('close', () => this.remove(sink));
    this.send(sink, `retry: ${this.o.retryMs}\n\n${first.join('')}`);
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => this.broadcastRaw(`: heartbeat ${Date.now()}\n\n`), this.o.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  remove(sink: SseSink): void {
    if (!this.clients.delete(sink)) return;
    if (this.clients.size === 0 && this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
  }

  publish(type: string, data: unknown, id?: number): void {
    if (this.clients.size === 0) return;
    this.broadcastRaw(formatSse(type, data, id));
  }

  /** Ends every connection (server shutdown). */
  close(): void {
    for (const c of [...this.clients]) {
      this.remove(c);
      try {
        c.end();
      } catch {
        // already gone
      }
    }
  }

  private broadcastRaw(chunk: string): void {
    for (const c of [...this.clients]) this.send(c, chunk);
  }

  private send(c: SseSink, chunk: string): void {
    if (c.writableLength > this.o.maxBuffered) {
      this.dropped++;
      this.remove(c);
      try {
        c.end();
      } catch {
        // already gone
      }
      return;
    }
    try {
      c.write(chunk);
    } catch {
      this.remove(c);
    }
  }
}
