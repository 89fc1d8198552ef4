/**
 * Structured JSON logging (pino). Use the documented field names so that logs from every
 * server can be filtered the same way: mac, ip, xid, peer, host, vm, hypervisor, state, reason.
 *
 * Bounded against floods that any host on the LAN can cause (lib/log-limit.ts): at most
 * `maxLinesPerSecond` lines (fatal always passes; the rest are counted and summed up in one warn
 * line per second), and standard output's buffer is capped (`bufferBytes`: what a slow reader
 * leaves unread beyond it is dropped and counted, instead of growing the process).
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { LogLimiter } from './log-limit.js';

export type { Logger };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LogBounds {
  /** Lines per second (also the burst); 0: no limit. Default 1000. */
  maxLinesPerSecond?: number;
  /** Standard output's unwritten buffer, at most (default 16 MiB). Not used with a destination. */
  bufferBytes?: number;
  /** The clock of the limit (default: performance.now). */
  now?: () => number;
}

const DEFAULT_LINES_PER_SECOND = 1000;
const DEFAULT_BUFFER_BYTES = 16 * 1024 * 1024;

export function createLogger(level: LogLevel = 'info', destination?: DestinationStream, bounds: LogBounds = {}): Logger {
  const now = bounds.now ?? (() => performance.now());
  const linesPerSecond = bounds.maxLinesPerSecond ?? DEFAULT_LINES_PER_SECOND;
  const limiter = new LogLimiter({ linesPerSecond }, now());
  let lastSummary = now();
  let summarizing = false;
  let root: Logger | undefined;
  /** One warn line with what was dropped, at most once a second. */
  const summarize = (): void => {
    if (!root || summarizing || now() - lastSummary < 1000) return;
    const d = limiter.takeDropped(now());
    if (!d) return;
    lastSummary = now();
    summarizing = true;
    try {
      root.warn({ dropped: d.total, byLevel: d.byLevel, seconds: Number(d.seconds.toFixed(1)), maxLinesPerSecond: linesPerSecond }, 'log: lines dropped over the limit (log.maxLinesPerSecond)');
    } finally {
      summarizing = false;
    }
  };
  const options = {
    level,
    base: { service: '3rc' },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: {
      logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: Parameters<Logger['info']>) => void, lvl: number) {
        if (summarizing) return method.apply(this, args);
        if (!limiter.allow(lvl, now())) return;
        summarize();
        return method.apply(this, args);
      },
    },
  };
  let dest = destination;
  if (!dest) {
    const out = pino.destination({ dest: 1, sync: false, maxLength: bounds.bufferBytes ?? DEFAULT_BUFFER_BYTES });
    // Written lines a slow reader left behind beyond the cap: dropped by sonic-boom, counted here.
    out.on('drop', () => limiter.countDropped('unwritten'));
    dest = out;
  }
  root = pino(options, dest);
  // A flood that stops leaves no line to carry its summary: look once a second (never keeps the process alive).
  if (linesPerSecond > 0) setInterval(summarize, 1000).unref();
  return root;
}

/** A logger that drops everything, for unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
