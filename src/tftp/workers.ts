/**
 * The TFTP server's transfer workers (servers.tftp.workers): a fixed set of worker threads
 * (worker.ts), each running the transfers it is handed. A transfer goes to the worker running the
 * fewest. A worker that dies (an uncaught exception, terminated) ends each of its transfers as a
 * failure (the server records `internal-error`), is logged, and is replaced; the server goes on.
 */
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import type { OwnSockets, PacketGuard } from '../lib/guard.js';
import type { Logger } from '../lib/log.js';
import type { PortEnd, PortSpec } from './port.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

interface Thread {
  worker: Worker;
  /** Transfer ids running there. */
  running: Set<number>;
  /** Replaced or stopped: its exit is expected. */
  retired: boolean;
  /** It started: one that dies before (its script cannot load) is not replaced, else it would be for ever. */
  online: boolean;
}

export interface WorkerEvents {
  /** A transfer ended by itself. */
  end(id: number, end: PortEnd): void;
  /** A transfer was lost: its port could not open, or its worker died. */
  failed(id: number, detail: string): void;
}

export class TftpWorkers {
  /** The threads, started or starting (tests end one to show that the server goes on). */
  readonly threads: Thread[] = [];
  private readonly where = new Map<number, Thread>();
  private stopping = false;
  /** A worker died before it started (its script cannot load): none is started again. */
  private gaveUp = false;

  /** What each worker starts with: the logger's level and the server's own sockets. */
  private readonly init: WorkerInit;

  /** No worker starts here: they start with the first transfer handed over (run), so a 3rc that sends no large file never pays their memory. */
  constructor(
    private readonly count: number,
    private readonly log: Logger,
    own: OwnSockets | undefined,
    private readonly guard: PacketGuard,
    private readonly events: WorkerEvents,
  ) {
    this.init = { logLevel: log.level, own };
  }

  /** Can take a transfer: a worker runs or can be started (none died before it started). */
  get usable(): boolean {
    return !this.stopping && (this.threads.length > 0 || !this.gaveUp);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const all = this.threads.splice(0);
    for (const t of all) t.retired = true;
    await Promise.all(all.map((t) => t.worker.terminate()));
    this.where.clear();
  }

  /** Hands a transfer to the least busy worker. */
  run(id: number, spec: PortSpec, body: Buffer): void {
    if (!this.gaveUp) while (this.threads.length < this.count) this.spawn().catch(() => undefined); // its exit is handled and logged in onExit
    let thread = this.threads[0];
    for (const t of this.threads) if (thread && t.running.size < thread.running.size) thread = t;
    if (!thread) {
      this.events.failed(id, 'no TFTP worker is running');
      return;
    }
    thread.running.add(id);
    this.where.set(id, thread);
    // Cached files live in a SharedArrayBuffer (files.ts): shared, not copied. Anything else is
    // copied once, to exactly its size, and moved.
    if (body.buffer instanceof SharedArrayBuffer) this.post(thread, { type: 'start', id, spec, body });
    else {
      const copy = new Uint8Array(body);
      this.post(thread, { type: 'start', id, spec, body: copy }, [copy.buffer]);
    }
  }

  /** Ends a transfer now, sending `error` to its peer first if given. */
  close(id: number, error?: Buffer): void {
    const thread = this.where.get(id);
    if (!thread) return;
    this.forget(id);
    this.post(thread, { type: 'close', id, ...(error ? { error: new Uint8Array(error) } : {}) });
  }

  private forget(id: number): void {
    this.where.get(id)?.running.delete(id);
    this.where.delete(id);
  }

  private post(thread: Thread, m: ToWorker, transfer: ArrayBuffer[] = []): void {
    thread.worker.postMessage(m, transfer);
  }

  private spawn(): Promise<void> {
    const worker = new Worker(WORKER_URL, { workerData: this.init });
    const thread: Thread = { worker, running: new Set(), retired: false, online: false };
    this.threads.push(thread);
    worker.on('message', (m: FromWorker) => this.onMessage(thread, m));
    worker.on('error', (err) => this.log.error({ err, threadId: worker.threadId }, 'tftp: a transfer worker failed'));
    worker.on('exit', (code) => this.onExit(thread, code));
    return new Promise((resolve, reject) => {
      worker.once('online', () => {
        thread.online = true;
        resolve();
      });
      worker.once('error', reject);
    });
  }

  private onExit(thread: Thread, code: number): void {
    const at = this.threads.indexOf(thread);
    if (at >= 0) this.threads.splice(at, 1);
    if (thread.retired) return;
    const lost = [...thread.running];
    this.log.error({ threadId: thread.worker.threadId, code, transfers: lost.length }, 'tftp: a transfer worker exited: its transfers end, a new worker replaces it');
    for (const id of lost) {
      this.forget(id);
      this.events.failed(id, `the transfer worker exited (code ${code})`);
    }
    if (!thread.online) this.gaveUp = true;
    if (!thread.online) this.log.error({ threadId: thread.worker.threadId }, 'tftp: a transfer worker died before it started: not replaced (transfers run in the main thread when none is left)');
    else if (!this.stopping) this.spawn().catch((err: unknown) => this.log.error({ err }, 'tftp: a transfer worker could not be replaced'));
  }

  private onMessage(thread: Thread, m: FromWorker): void {
    switch (m?.type) {
      case 'end':
      case 'failed':
        // A transfer the server closed meanwhile is no longer ours to report.
        if (this.where.get(m.id) !== thread) return;
        this.forget(m.id);
        if (m.type === 'end') this.events.end(m.id, { outcome: m.outcome, detail: m.detail, retransmits: m.retransmits });
        else this.events.failed(m.id, m.message);
        return;
      case 'log':
        return this.relay(m.line);
      case 'drop':
        return this.guard.drop('tftp', m.reason);
      case 'fail':
        return this.guard.fail('tftp');
      default:
        this.log.warn({ message: JSON.stringify(m)?.slice(0, 200) }, 'tftp: unknown message from a transfer worker ignored');
    }
  }

  /** A worker's log record, written by this thread's logger at its level. */
  private relay(line: string): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return this.log.warn({ line: line.slice(0, 200) }, 'tftp: unreadable log record from a transfer worker');
    }
    const { level, msg, ...fields } = record;
    const name = pino.levels.labels[Number(level)] as 'debug' | 'info' | 'warn' | 'error' | undefined;
    (this.log[name ?? 'info'] ?? this.log.info).call(this.log, fields, typeof msg === 'string' ? msg : 'tftp: worker log');
  }
}
