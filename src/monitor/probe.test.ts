import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { fetchGanglia } from './ganglia-fetch.js';
import { probeAll, probeTcp } from './probe.js';

function listen(onConn: (s: Socket) => void = (s) => void s.end()): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer(onConn);
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}
const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

/** A loopback port with nobody listening: bind one, then close it. */
async function closedPort(): Promise<number> {
  const { server, port } = await listen();
  await close(server);
  return port;
}

describe('TCP probes on loopback', () => {
  it('an open port answers', async () => {
    const { server, port } = await listen();
    try {
      assert.deepEqual(await probeTcp('127.0.0.1', port, 2000), { open: true, answered: true });
    } finally {
      await close(server);
    }
  });

  it('a closed port is refused: answered, not open', async () => {
    const port = await closedPort();
    const r = await probeTcp('127.0.0.1', port, 2000);
    assert.equal(r.open, false);
    assert.equal(r.answered, true);
    assert.equal(r.error, 'ECONNREFUSED');
  });

  it('probes many, in input order, with bounded concurrency', async () => {
    const { server, port } = await listen();
    const dead = await closedPort();
    try {
      const rs = await probeAll([{ host: '127.0.0.1', port }, { host: '127.0.0.1', port: dead }, { host: '127.0.0.1', port }], { timeoutMs: 2000, concurrency: 2 });
      assert.deepEqual(rs.map((r) => r.open), [true, false, true]);
    } finally {
      await close(server);
    }
  });
});

describe('Ganglia over TCP on loopback', () => {
  it('reads the document a gmond prints and parses it', async () => {
    const xml = readFileSync(new URL('../../../src/monitor/fixtures/gmond.xml', import.meta.url));
    const { server, port } = await listen((s) => {
      // Written in two parts, as a big document arrives.
      s.write(xml.subarray(0, 1000));
      setImmediate(() => s.end(xml.subarray(1000)));
    });
    try {
      const hosts = await fetchGanglia('127.0.0.1', port, { timeoutMs: 2000 });
      assert.deepEqual(hosts.map((h) => h.name), ['hv1', 'hv2', 'hv3', 'vm10']);
    } finally {
      await close(server);
    }
  });

  it('gives up on a gmond that trickles its document (a byte every 100 ms) at the deadline', { timeout: 30_000 }, async () => {
    const timers = new Set<ReturnType<typeof setInterval>>();
    const { server, port } = await listen((s) => {
      // 100 bytes in 10 s, then the end (so that a fetch without a deadline ends too, unparsable).
      let n = 0;
      s.write('<');
      const t = setInterval(() => (++n < 100 ? s.write('x') : (clearInterval(t), s.end())), 100);
      timers.add(t);
      s.on('close', () => clearInterval(t));
      s.on('error', () => clearInterval(t));
    });
    try {
      // The idle timeout (300 ms) never fires: a byte comes every 100 ms. Only the deadline ends it.
      await assert.rejects(fetchGanglia('127.0.0.1', port, { timeoutMs: 300, deadlineMs: 1000 }), (err: Error & { code?: string }) => err.code === 'E_GANGLIA_FETCH' && /not done within 1000 ms/.test(err.message));
      // Without a deadline of its own: twice the idle timeout.
      await assert.rejects(fetchGanglia('127.0.0.1', port, { timeoutMs: 300 }), /not done within 600 ms/);
    } finally {
      for (const t of timers) clearInterval(t);
      await close(server);
    }
  });

  it('fails with its own error when nobody listens', async () => {
    const port = await closedPort();
    await assert.rejects(fetchGanglia('127.0.0.1', port, { timeoutMs: 2000 }), { code: 'E_GANGLIA_FETCH' });
  });
});
