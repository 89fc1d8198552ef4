import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../lib/clock.js';
import { PacketGuard } from '../lib/guard.js';
import { silentLogger } from '../lib/log.js';
import { formatIpv6, parseIpv6 } from './ipv6.js';
import { ALL_NODES, MAX_INITIAL_RTR_ADVERTISEMENTS, MIN_DELAY_BETWEEN_RAS, RouterAdvertiser, SOLICITED_PER_SECOND, type RaLink } from './advertiser.js';
import { decodeRouterAdvertisement } from './ndp.js';

const HOST = parseIpv6('fe80::5054:ff:fe77:10')!;
const RS = Buffer.from('85000000000000000101525400770010', 'hex');
const RS_BARE = Buffer.from('8500000000000000', 'hex');

function link(over: Partial<RaLink> = {}): RaLink {
  return {
    ifindex: 2,
    name: 'eth0',
    mac: Buffer.from('525400770001', 'hex'),
    advertisement: { curHopLimit: 64, managed: false, otherConfig: false, routerLifetime: 0, reachableTime: 0, retransTimer: 0, prefixes: [] },
    maxInterval: 600_000,
    minInterval: 200_000,
    ...over,
  };
}

function setup(opts: { up?: boolean } = {}) {
  const clock = new FakeClock();
  const guard = new PacketGuard();
  const sent: Array<{ at: number; ifindex: number; to: string; msg: Buffer }> = [];
  let up = opts.up ?? true;
  const ra = new RouterAdvertiser({
    clock,
    guard,
    log: silentLogger,
    random: () => 0.5,
    out: { send: (ifindex, to, msg) => (up ? (sent.push({ at: clock.now(), ifindex, to: formatIpv6(to), msg }), true) : false) },
  });
  return { clock, guard, sent, ra, setUp: (v: boolean) => (up = v) };
}

describe('router advertiser: unsolicited (RFC 4861 section 6.2.4)', () => {
  it('advertises at once, then the initial ones at most 16 s apart, then every min..max interval', () => {
    const { clock, sent, ra } = setup();
    const t0 = clock.now();
    ra.add(link());
    clock.advance(0);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.to, 'ff02::1');
    clock.advance(16_000);
    clock.advance(16_000);
    assert.equal(sent.length, MAX_INITIAL_RTR_ADVERTISEMENTS);
    assert.deepEqual(sent.map((s) => s.at - t0), [0, 16_000, 32_000]);
    clock.advance(400_000 - 1);
    assert.equal(sent.length, 3, 'random 0.5 between 200 s and 600 s: the next at 400 s');
    clock.advance(1);
    assert.equal(sent.length, 4);
    const ra0 = decodeRouterAdvertisement(sent[0]!.msg);
    assert.equal(ra0.routerLifetime, 0);
    assert.equal(ra0.sourceLinkLayer!.toString('hex'), '525400770001');
  });

  it('advertises again when the transport comes (back) up: what was sent while it was down is lost', () => {
    const { clock, sent, ra, setUp } = setup({ up: false });
    ra.add(link());
    clock.advance(10);
    assert.equal(sent.length, 0);
    setUp(true);
    ra.transportReady();
    clock.advance(0);
    assert.equal(sent.length, 1);
  });

  it('stop: a link that made 3rc a default router sends a final advertisement with lifetime 0; no timer is left', () => {
    const { clock, sent, ra } = setup();
    ra.add(link({ ifindex: 2, advertisement: { ...link().advertisement, routerLifetime: 1800 } }));
    ra.add(link({ ifindex: 3 }));
    clock.advance(0);
    const before = sent.length;
    ra.stop();
    assert.equal(clock.pending, 0);
    assert.deepEqual(sent.slice(before).map((s) => [s.ifindex, decodeRouterAdvertisement(s.msg).routerLifetime]), [[2, 0]]);
  });
});

describe('router advertiser: solicitations (RFC 4861 section 6.2.6)', () => {
  it('answers a solicitation at once, by unicast to the soliciting address', () => {
    const { clock, sent, ra } = setup();
    ra.add(link());
    clock.advance(0);
    const n = sent.length;
    assert.equal(ra.solicitation(2, HOST, 255, RS), 'unicast');
    assert.equal(sent.length, n + 1, 'sent before any timer ran');
    assert.equal(sent[n]!.to, 'fe80::5054:ff:fe77:10');
    assert.equal(sent[n]!.at, clock.now());
  });

  it('a solicitation from :: gets a multicast answer, at most one every 3 s', () => {
    const { clock, sent, ra } = setup();
    const unspecified = Buffer.alloc(16);
    ra.add(link());
    clock.advance(0); // the first unsolicited one, now
    assert.equal(ra.solicitation(2, unspecified, 255, RS_BARE), 'multicast-later');
    clock.advance(MIN_DELAY_BETWEEN_RAS - 1);
    assert.equal(sent.length, 1);
    clock.advance(1);
    assert.equal(sent.length, 2);
    assert.equal(sent[1]!.to, 'ff02::1');
    clock.advance(MIN_DELAY_BETWEEN_RAS);
    assert.equal(ra.solicitation(2, unspecified, 255, RS_BARE), 'multicast');
    assert.equal(sent.length, 3);
  });

  it('drops, counts and survives hostile solicitations', () => {
    const { clock, guard, sent, ra } = setup();
    ra.add(link());
    clock.advance(0);
    const n = sent.length;
    assert.equal(ra.solicitation(2, HOST, 64, RS), 'bad-hop-limit');
    assert.equal(ra.solicitation(2, HOST, 255, Buffer.from('85000000000000000100', 'hex')), 'malformed');
    assert.equal(ra.solicitation(2, HOST, 255, Buffer.from('85', 'hex')), 'malformed');
    assert.equal(ra.solicitation(2, Buffer.alloc(16), 255, RS), 'malformed', 'link-layer option from ::');
    assert.equal(ra.solicitation(2, ALL_NODES, 255, RS), 'bad-source');
    assert.equal(ra.solicitation(2, Buffer.alloc(3), 255, RS), 'bad-source');
    assert.equal(ra.solicitation(9, HOST, 255, RS), 'unknown-link');
    assert.equal(sent.length, n, 'nothing answered');
    assert.equal(guard.dropped.get('ra:malformed'), 3);
    assert.equal(guard.dropped.get('ra:bad-hop-limit'), 1);
    assert.equal(guard.dropped.get('ra:bad-source'), 2);
    assert.equal(ra.solicitation(2, HOST, 255, RS), 'unicast');
  });

  it('a flood of solicitations gets at most SOLICITED_PER_SECOND answers a second', () => {
    const { clock, guard, sent, ra } = setup();
    ra.add(link());
    clock.advance(0);
    const n = sent.length;
    for (let i = 0; i < 1000; i++) ra.solicitation(2, HOST, 255, RS);
    assert.equal(sent.length - n, SOLICITED_PER_SECOND);
    assert.equal(guard.dropped.get('ra:rate-limited'), 1000 - SOLICITED_PER_SECOND);
    clock.advance(500);
    for (let i = 0; i < 1000; i++) ra.solicitation(2, HOST, 255, RS);
    assert.equal(sent.length - n, SOLICITED_PER_SECOND * 1.5);
  });
});
