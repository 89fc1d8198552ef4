/**
 * Forwarding: names outside the zone are relayed to the forwarders for clients in a managed
 * subnet only. The upstream is a real dnsmasq on its own loopback address (forwarders are asked
 * on port 53, so it listens on 127.53.x.1:53); 3rc runs as a real `3rc serve` child with an extra
 * managed subnet 127.0.0.1/32, so that dig bound to 127.0.0.1 counts as managed and dig bound to
 * 127.0.0.2 does not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { LAB_YAML, serve, writeLabConfig, type LabConfig, type Served } from '../lib/serve.js';
import { dig1 } from './dig.js';
import { dnsmasqUnavailable, startDnsmasq, type Dnsmasq } from './upstream.js';

const skip = dnsmasqUnavailable() ?? (process.getuid?.() !== 0 ? 'needs root (the upstream listens on port 53 of a loopback address)' : undefined);
const upstreamAddress = `127.53.${process.pid % 250}.1`;
const lab = parse(readFileSync(LAB_YAML, 'utf8')) as { network: { subnets: unknown[] } };

describe('forwarding to a real dnsmasq', { skip }, () => {
  let cfg: LabConfig;
  let srv: Served;
  let upstream: Dnsmasq;

  before(async () => {
    upstream = await startDnsmasq(upstreamAddress, 53, ['--address=/example.org/10.77.9.9', '--txt-record=big.example.org,' + 'x'.repeat(250) + ',' + 'y'.repeat(250) + ',' + 'z'.repeat(250)]);
    cfg = await writeLabConfig({
      network: { subnets: [...lab.network.subnets, { cidr: '127.0.0.1/32' }] },
      servers: { dns: { ttl: '5m', tcpIdleTimeout: '10s', forwarders: [upstreamAddress] } },
    });
    srv = await serve(cfg);
  });

  after(async () => {
    await srv?.stop();
    await upstream?.stop();
    cfg?.cleanup();
  });

  it('a managed client gets the upstream answer, over UDP and TCP', async () => {
    for (const t of ['+notcp', '+tcp']) {
      const m = await dig1(cfg.ports.dns, [t, '-b', '127.0.0.1', 'www.example.org', 'A']);
      assert.equal(m.status, 'NOERROR', t);
      assert.deepEqual(m.answer.map((r) => r[4]), ['10.77.9.9'], t);
    }
  });

  it('a client outside the managed subnets is REFUSED', async () => {
    const m = await dig1(cfg.ports.dns, ['-b', '127.0.0.2', 'www.example.org', 'A']);
    assert.equal(m.status, 'REFUSED');
    assert.equal(m.answer.length, 0);
  });

  it('a query without RD is not recursed', async () => {
    const m = await dig1(cfg.ports.dns, ['-b', '127.0.0.1', '+norec', 'www.example.org', 'A']);
    assert.equal(m.status, 'REFUSED');
  });

  it('the zone is still answered authoritatively for everybody', async () => {
    for (const src of ['127.0.0.1', '127.0.0.2']) {
      const m = await dig1(cfg.ports.dns, ['-b', src, 'vm10.lab.test', 'A']);
      assert.ok(m.flags.includes('aa'));
      assert.deepEqual(m.answer.map((r) => r[4]), ['10.77.0.10']);
    }
  });

  it('an upstream answer larger than the client limit is relayed with TC over UDP, whole over TCP', async () => {
    const udp = await dig1(cfg.ports.dns, ['+notcp', '+noedns', '+ignore', '-b', '127.0.0.1', 'big.example.org', 'TXT']);
    assert.ok(udp.flags.includes('tc'), udp.flags.join(' '));
    const tcp = await dig1(cfg.ports.dns, ['+tcp', '-b', '127.0.0.1', 'big.example.org', 'TXT']);
    assert.equal(tcp.answer.length, 1);
  });
});
