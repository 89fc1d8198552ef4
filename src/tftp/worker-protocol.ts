/**
 * The messages between the TFTP server (main thread) and its transfer workers (worker.ts). Plain
 * data only (structured clone); a file's bytes travel as a Uint8Array, shared when the cache holds
 * them in a SharedArrayBuffer (files.ts), else copied once per transfer.
 */
import type { OwnSockets } from '../lib/guard.js';
import type { PortEnd, PortSpec } from './port.js';

/** What a worker starts with (workerData). */
export interface WorkerInit {
  /** The main logger's level: a worker only sends the records that would be written. */
  logLevel: string;
  own?: OwnSockets;
}

export type ToWorker =
  /** Run this transfer on a port of the worker's own. */
  | { type: 'start'; id: number; spec: PortSpec; body: Uint8Array }
  /** End it now (evicted, superseded, shutdown), sending `error` to the peer first if given. */
  | { type: 'close'; id: number; error?: Uint8Array };

export type FromWorker =
  /** The transfer ended by itself. */
  | ({ type: 'end'; id: number } & PortEnd)
  /** The transfer could not start (its port could not be bound or connected). */
  | { type: 'failed'; id: number; message: string }
  /** A log record (pino's JSON line), written by the main thread's logger. */
  | { type: 'log'; line: string }
  /** The packet guard's counters (lib/guard.ts), kept by the main thread (in /metrics). */
  | { type: 'drop'; reason: string }
  | { type: 'fail' };
