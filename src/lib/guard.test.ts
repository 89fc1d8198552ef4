import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from './log.js';
import { ownSockets, PacketGuard, unanswerable } from './guard.js';

test('unanswerable: port 0, unspecified, broadcast, multicast and our own sockets are dropped', () => {
  const own = ownSockets([69, 67], { eth0: [{ address: '10.77.0.1', netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: '10.77.0.1/24' }] });
  assert.equal(unanswerable('10.77.0.20', 0, own), 'port-0');
  assert.equal(unanswerable('10.77.0.20', 70000, own), 'bad-port');
  assert.equal(unanswerable('0.0.0.0', 68, own), 'unspecified');
  assert.equal(unanswerable('255.255.255.255', 68, own), 'broadcast');
  assert.equal(unanswerable('10.77.0.255', 68, own), 'broadcast');
  assert.equal(unanswerable('224.0.0.1', 5353, own), 'multicast');
  assert.equal(unanswerable('239.255.255.250', 1900, own), 'multicast');
  assert.equal(unanswerable('ff02::1', 547, own), 'multicast');
  assert.equal(unanswerable('::', 547, own), 'unspecified');
  assert.equal(unanswerable('10.77.0.1', 69, own), 'own-socket');
  assert.equal(unanswerable('::ffff:10.77.0.255', 68, own), 'broadcast');
  // Answerable: an ordinary client, and our own address from a port we do not listen on.
  assert.equal(unanswerable('10.77.0.20', 2070, own), null);
  assert.equal(unanswerable('10.77.0.1', 40000, own), null);
  assert.equal(unanswerable('127.0.0.1', 40000), null);
});

test('boundary: a throwing or rejecting handler is logged and counted, never escapes', async () => {
  const g = new PacketGuard();
  const sync = g.boundary('tftp', silentLogger, (p: string) => p, () => {
    throw new Error('boom');
  });
  assert.doesNotThrow(() => sync('10.77.0.9:0'));
  const async = g.boundary('dns', silentLogger, () => 'peer', async () => {
    throw new Error('later');
  });
  let unhandled = 0;
  const onUnhandled = () => unhandled++;
  process.on('unhandledRejection', onUnhandled);
  async();
  await new Promise((r) => setImmediate(r));
  process.off('unhandledRejection', onUnhandled);
  assert.equal(unhandled, 0);
  assert.equal(g.failures.get('tftp'), 1);
  assert.equal(g.failures.get('dns'), 1);
  g.own('p2v', silentLogger, 'timeout end', Promise.reject(new Error('x')));
  await new Promise((r) => setImmediate(r));
  assert.equal(g.failures.get('p2v'), 1);
});
