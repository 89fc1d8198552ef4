import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../lib/clock.js';
import { silentLogger } from '../lib/log.js';
import type { HelperFrame } from './frames.js';
import { Icmp6Helper } from './helper.js';
import { parseIpv6 } from './ipv6.js';

type Packet = Extract<HelperFrame, { kind: 'packet' }>;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 2000) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const root = process.getuid?.() === 0;

describe('ICMPv6 helper process', () => {
  it('the real python3 helper opens its raw socket, sends with hop limit 255 and reads a router solicitation back (loopback)', { skip: root ? undefined : 'needs root (raw socket); CI runs as root' }, async () => {
    const packets: Packet[] = [];
    let ready = 0;
    const helper = new Icmp6Helper({ clock: new FakeClock(), log: silentLogger, events: { ready: () => void ready++, packet: (p) => void packets.push(p) } });
    helper.start();
    try {
      await until(() => ready === 1, 'ready');
      // An advertisement to ::1 is filtered out by the socket's ICMP6_FILTER; a solicitation comes back.
      assert.ok(helper.send(1, parseIpv6('::1')!, Buffer.from('8600000040000000' + '0000000000000000', 'hex')));
      assert.ok(helper.send(1, parseIpv6('::1')!, Buffer.from('85000000000000000101525400770010', 'hex')));
      await until(() => packets.length >= 1, 'the solicitation');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(packets.length, 1, 'only the solicitation passes the filter');
      const p = packets[0]!;
      assert.equal(p.ifindex, 1, 'lo');
      assert.equal(p.hopLimit, 255);
      assert.equal(p.source.toString('hex'), parseIpv6('::1')!.toString('hex'));
      // The kernel filled the checksum in (bytes 2-3); the rest is what was sent.
      assert.notEqual(p.message.readUInt16BE(2), 0);
      assert.equal(p.message.toString('hex', 4), '000000000101525400770010');
      assert.equal(p.message.toString('hex', 0, 2), '8500');
      // join/leave of an index that does not exist: reported by the helper, which goes on.
      helper.join(999_999);
      helper.leave(999_999);
      assert.ok(helper.send(1, parseIpv6('::1')!, Buffer.from('8500000000000000', 'hex')));
      await until(() => packets.length === 2, 'a second solicitation after the failed join');
      assert.equal(helper.starts, 1);
    } finally {
      await helper.stop();
    }
  });

  it('a helper that breaks the protocol is killed and started again after a back-off', async () => {
    const clock = new FakeClock();
    // Says READY; answers the first command (the JOIN) with a frame of length 0.
    const script = 'process.stdout.write(Buffer.from([0,0,0,1,1])); process.stdin.once("data", () => process.stdout.write(Buffer.from([0,0,0,0]))); setInterval(() => {}, 1000);';
    let ready = 0;
    const helper = new Icmp6Helper({ clock, log: silentLogger, command: [process.execPath, '-e', script], events: { ready: () => void ready++, packet: () => undefined } });
    helper.start();
    try {
      await until(() => ready === 1, 'first ready');
      helper.join(5);
      await until(() => !helper.isReady, 'killed on the broken frame');
      assert.equal(helper.send(1, Buffer.alloc(16), Buffer.from([133])), false, 'no send while it is down');
      assert.equal(helper.starts, 1);
      clock.advance(999);
      assert.equal(helper.starts, 1);
      clock.advance(1);
      assert.equal(helper.starts, 2, 'restarted after 1 s');
      await until(() => ready === 2, 'ready again');
    } finally {
      await helper.stop();
    }
  });

  it('a helper that cannot start (no such program, or it exits) is retried with a doubling back-off, and never after stop()', async () => {
    const clock = new FakeClock();
    const helper = new Icmp6Helper({ clock, log: silentLogger, command: ['/nonexistent/python3'], events: { ready: () => undefined, packet: () => undefined } });
    helper.start();
    await until(() => clock.pending === 1, 'a restart scheduled');
    clock.advance(1000);
    assert.equal(helper.starts, 2);
    await until(() => clock.pending === 1, 'a second restart scheduled');
    clock.advance(1999);
    assert.equal(helper.starts, 2);
    clock.advance(1);
    assert.equal(helper.starts, 3, 'after 2 s');
    await until(() => clock.pending === 1, 'a third restart scheduled');
    await helper.stop();
    assert.equal(clock.pending, 0);
    clock.advance(60_000);
    assert.equal(helper.starts, 3);
  });
});
