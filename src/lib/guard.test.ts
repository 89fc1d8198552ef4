import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from './log.js';
import { ownSockets, PacketGuard, SEND_QUEUE_CAP, sendQueueFull, unanswerable } from './guard.js';

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

test('unanswerable: IPv6 sources, port 0, multicast ff00::/8, unspecified and our own addresses, in any spelling', () => {
  const own = ownSockets([69, 547], {
    eth0: [
      { address: 'fd77::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal: false, cidr: 'fd77::1/64', scopeid: 0 },
      { address: 'fe80::5054:ff:fe77:1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal: false, cidr: 'fe80::5054:ff:fe77:1/64', scopeid: 2 },
      { address: '10.77.0.1', netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: '10.77.0.1/24' },
    ],
  });
  assert.equal(unanswerable('fd77::20', 0, own), 'port-0');
  assert.equal(unanswerable('fe80::1%eth0', 0, own), 'port-0');
  for (const m of ['ff02::1', 'ff05::1:3', 'FF02::1:2', 'ff0e::101', 'ff02::1%eth0']) assert.equal(unanswerable(m, 546, own), 'multicast', m);
  for (const u of ['::', '0:0:0:0:0:0:0:0', '0::0', '::%eth0']) assert.equal(unanswerable(u, 546, own), 'unspecified', u);
  // Our own addresses on one of our ports: the global one, the link-local one as a socket reports
  // it (with its zone), and other spellings of them.
  for (const a of ['fd77::1', 'FD77:0:0:0::1', 'fd77:0000::0001', 'fe80::5054:ff:fe77:1%eth0']) assert.equal(unanswerable(a, 69, own), 'own-socket', a);
  // The IPv4-mapped form stays IPv4.
  assert.equal(unanswerable('::ffff:10.77.0.1', 69, own), 'own-socket');
  assert.equal(unanswerable('::ffff:224.0.0.1', 69, own), 'multicast');
  // Answerable: clients, link-local ones with their zone, and our address from a port we do not listen on.
  assert.equal(unanswerable('fd77::20', 2070, own), null);
  assert.equal(unanswerable('fe80::5054:ff:fe77:20%eth0', 546, own), null);
  assert.equal(unanswerable('fd77::1', 40000, own), null);
  assert.equal(unanswerable('::1', 40000), null);
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

test('sendQueueFull: a shared socket holding SEND_QUEUE_CAP unsent replies is full; a closed one is not (send reports it)', () => {
  const at = (n: number) => ({ getSendQueueCount: () => n });
  assert.equal(sendQueueFull(at(0)), false);
  assert.equal(sendQueueFull(at(SEND_QUEUE_CAP - 1)), false);
  assert.equal(sendQueueFull(at(SEND_QUEUE_CAP)), true);
  assert.equal(sendQueueFull(at(3), 3), true);
  assert.equal(sendQueueFull({ getSendQueueCount: () => { throw new Error('Not running'); } }), false);
});
