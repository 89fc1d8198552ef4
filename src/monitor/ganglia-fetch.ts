/**
 * Reads Ganglia XML over TCP: gmond (port 8649) and gmetad (8651) print the whole document and
 * close the connection. Bounded in size and time, so a stuck or hostile peer cannot hold a pass:
 * an idle timeout (no byte for timeoutMs) and a total deadline (deadlineMs from the connect,
 * default twice timeoutMs): a source that trickles a byte now and then never resets the latter.
 * A fetch that fails leaves its hosts' loads unknown for that pass.
 */
import { connect } from 'node:net';
import { GangliaErrorCodes, ThreeRcError } from '../lib/errors.js';
import { parseGanglia, type GangliaHost } from './ganglia.js';

export class GangliaFetchError extends ThreeRcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(GangliaErrorCodes.FETCH, message, options);
  }
}

export interface GangliaFetchOptions {
  /** Idle timeout: no byte for this long fails the fetch. */
  timeoutMs: number;
  /** Total deadline from the connect, however the bytes trickle. Default: 2 * timeoutMs. */
  deadlineMs?: number;
  maxBytes?: number;
}

function fetchGangliaXml(host: string, port: number, opts: GangliaFetchOptions): Promise<string> {
  const max = opts.maxBytes ?? 64 * 1024 * 1024;
  const deadlineMs = opts.deadlineMs ?? 2 * opts.timeoutMs;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = connect({ host, port });
    const deadline = setTimeout(() => fail(`not done within ${deadlineMs} ms (${size} bytes so far)`), deadlineMs);
    socket.once('close', () => clearTimeout(deadline));
    const fail = (msg: string, cause?: unknown) => {
      clearTimeout(deadline);
      socket.destroy();
      reject(new GangliaFetchError(`${host}:${port}: ${msg}`, { cause }));
    };
    socket.setTimeout(opts.timeoutMs, () => fail(`no data for ${opts.timeoutMs} ms`));
    socket.on('data', (b: Buffer) => {
      size += b.length;
      if (size > max) return fail(`more than ${max} bytes`);
      chunks.push(b);
    });
    socket.once('error', (err) => fail(err.message, err));
    // gmond writes ISO-8859-1.
    socket.once('end', () => {
      clearTimeout(deadline);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

export async function fetchGanglia(host: string, port: number, opts: GangliaFetchOptions & { k?: number }): Promise<GangliaHost[]> {
  return parseGanglia(await fetchGangliaXml(host, port, opts), opts.k === undefined ? {} : { k: opts.k });
}
