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

  it('fails with its own error when nobody listens', async () => {
    const port = await closedPort();
    await assert.rejects(fetchGanglia('127.0.0.1', port, { timeoutMs: 2000 }), { code: 'E_GANGLIA_FETCH' });
  });
});
