import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { listenTcp, TCP_BACKLOG } from './bind.js';

test('a TCP listener gets an accept queue sized for a boot storm (ss shows its backlog), capped by somaxconn', async (t) => {
  let ss: string;
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
  } catch {
    return t.skip('ss (iproute2) is not installed: the backlog cannot be read');
  }
  const server = net.createServer();
  await listenTcp(server, { name: 'http', address: '127.0.0.1', port: 0 });
  try {
    const port = (server.address() as net.AddressInfo).port;
    ss = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
    // State Recv-Q Send-Q Local Peer: for a listener, Send-Q is its backlog.
    const backlog = Number(ss.trim().split(/\s+/)[2]);
    const somaxconn = Number(execFileSync('cat', ['/proc/sys/net/core/somaxconn'], { encoding: 'utf8' }));
    assert.equal(backlog, Math.min(TCP_BACKLOG, somaxconn), ss);
    if (somaxconn > 511) assert.ok(backlog > 511, `Node's default backlog (511) overflowed in the boot storm; got ${backlog}`);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
