/**
 * Reads Ganglia XML over TCP: gmond (port 8649) and gmetad (8651) print the whole document and
 * close the connection. Bounded in size and time, so a stuck or hostile peer cannot hold a pass.
 */
import { connect } from 'node:net';
import { parseGanglia, type GangliaHost } from './ganglia.js';

export class GangliaFetchError extends Error {
  readonly code = 'E_GANGLIA_FETCH';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GangliaFetchError';
  }
}

export function fetchGangliaXml(host: string, port: number, opts: { timeoutMs: number; maxBytes?: number }): Promise<string> {
  const max = opts.maxBytes ?? 64 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = connect({ host, port });
    const fail = (msg: string, cause?: unknown) => {
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
    socket.once('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

export async function fetchGanglia(host: string, port: number, opts: { timeoutMs: number; k?: number }): Promise<GangliaHost[]> {
  return parseGanglia(await fetchGangliaXml(host, port, opts), opts.k === undefined ? {} : { k: opts.k });
}
