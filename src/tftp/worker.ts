/**
 * A TFTP transfer worker (node:worker_threads; servers.tftp.workers): owns the transfer ports the
 * main thread hands it and runs each one's lock-step or window loop (port.ts), so that transfers
 * use a second core as tftpd-hpa's forked children do. Everything that decides (the request's
 * checks, the file, the options, the limits, the trace) stays in the main thread; this reports
 * how each transfer ended. Its log records and packet-guard counters go to the main thread.
 *
 * A message that does not make sense (an unknown type, a transfer id already running) is logged
 * and ignored; an exception thrown by a handler stays inside the guard's boundary.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { systemClock } from '../lib/clock.js';
import { PacketGuard } from '../lib/guard.js';
import { TransferPort } from './port.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('tftp/worker.js runs as a worker thread of the TFTP server');
const init = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

/** Counts go to the main thread's guard, which /metrics reads. */
class ForwardingGuard extends PacketGuard {
  override drop(_server: string, reason: string): void {
    post({ type: 'drop', reason });
  }

  override fail(): void {
    post({ type: 'fail' });
  }
}

const log = pino({ level: init.logLevel, base: undefined, timestamp: false }, { write: (line: string) => post({ type: 'log', line }) });
const guard = new ForwardingGuard();
const deps = { clock: systemClock, log, guard, own: init.own, random: Math.random };
const running = new Map<number, TransferPort>();

const onMessage = guard.boundary('tftp', log, (m: ToWorker) => `transfer ${String(m?.id)}`, (m: ToWorker) => {
  switch (m?.type) {
    case 'start': {
      if (running.has(m.id)) throw new Error(`transfer ${m.id} is already running`);
      const failed = (err: unknown) => post({ type: 'failed', id: m.id, message: err instanceof Error ? err.message : String(err) });
      let transfer: TransferPort;
      try {
        const body = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength);
        transfer = new TransferPort(m.spec, body, deps, (end) => {
          running.delete(m.id);
          post({ type: 'end', id: m.id, ...end });
        });
      } catch (err) {
        // A transfer that cannot start still ends (the main thread frees its slot).
        return failed(err);
      }
      running.set(m.id, transfer);
      transfer.open().catch((err: unknown) => {
        running.delete(m.id);
        transfer.close();
        failed(err);
      });
      return;
    }
    case 'close':
      running.get(m.id)?.close(m.error ? Buffer.from(m.error.buffer, m.error.byteOffset, m.error.byteLength) : undefined);
      running.delete(m.id);
      return;
    default:
      throw new Error(`unknown message from the TFTP server: ${JSON.stringify(m)?.slice(0, 200)}`);
  }
});
port.on('message', onMessage);
