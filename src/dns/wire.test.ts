import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { Inventory } from '../inventory/inventory.js';
import { frame, frameAll, FrameReader } from './framing.js';
import { respond, type Client } from './respond.js';
import { keyToName, nameKey, parseQuery, Rcode, udpLimit } from './wire.js';
import { buildZone } from './zone.js';

const zone = buildZone(
  { domain: 'lab.test', serverIp: '10.77.0.1', subnets: ['10.77.0.0/24'], ttl: 300 },
  new Inventory(
    [
      { name: 'vm10', mac: '52:54:00:77:00:10', ip: '10.77.0.10', profile: 'debian12', role: 'middleware', reinstall: true, priority: 0, cpus: 1, memoryMb: 1024, boot: 'local', vars: {} },
      // HINFO of 2 x 255 bytes: its answer does not fit in 512 bytes.
      { name: 'big', mac: '52:54:00:77:00:99', ip: '10.77.0.99', profile: 'debian12', hinfo: { cpu: 'c'.repeat(255), os: 'o'.repeat(255) }, reinstall: true, priority: 0, cpus: 1, memoryMb: 1024, boot: 'local', vars: {} },
    ],
    [],
    [],
  ),
  { now: Date.UTC(2026, 0, 1) },
);
const udp: Client = { transport: 'udp', mayForward: false };

function query(name: string, type: dnsPacket.RecordType, opts: { id?: number; udpSize?: number; ednsVersion?: number } = {}): Buffer {
  const additionals: dnsPacket.Answer[] =
    opts.udpSize === undefined ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: opts.udpSize, ednsVersion: opts.ednsVersion ?? 0, flags: 0, options: [] } as unknown as dnsPacket.Answer];
  return Buffer.from(dnsPacket.encode({ type: 'query', id: opts.id ?? 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }], additionals }));
}

function header(fields: { id?: number; flags?: number; qd?: number; an?: number; ns?: number; ar?: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(fields.id ?? 0x1234, 0);
  b.writeUInt16BE(fields.flags ?? 0, 2);
  b.writeUInt16BE(fields.qd ?? 1, 4);
  b.writeUInt16BE(fields.an ?? 0, 6);
  b.writeUInt16BE(fields.ns ?? 0, 8);
  b.writeUInt16BE(fields.ar ?? 0, 10);
  return b;
}

/** A reply must decode, be a response, and carry the query's ID. */
function assertValidReply(input: Buffer, out: Buffer): void {
  const d = dnsPacket.decode(out);
  assert.equal(d.type, 'response');
  assert.equal(d.id, input.readUInt16BE(0));
}

describe('wire: parseQuery', () => {
  it('reads id, rd, question key and EDNS', () => {
    const p = parseQuery(query('VM10.lab.TEST', 'HINFO', { id: 99, udpSize: 4096 }));
    assert.ok(p.ok);
    assert.equal(p.query.id, 99);
    assert.equal(p.query.rd, true);
    assert.equal(p.query.key, nameKey('vm10.lab.test'));
    assert.equal(keyToName(p.query.key), 'vm10.lab.test');
    assert.equal(p.query.qtype, 13);
    assert.deepEqual(p.query.edns, { udpSize: 4096, version: 0 });
  });

  it('drops what has no header, and responses', () => {
    for (const [buf, reason] of [[Buffer.alloc(0), 'empty'], [Buffer.alloc(11), 'short-header'], [header({ flags: 0x8000 }), 'not-a-query']] as const) {
      const p = parseQuery(buf);
      assert.ok(!p.ok);
      assert.equal(p.reason, reason);
      assert.equal(p.rcode, undefined);
    }
  });

  it('FORMERR for bad counts, truncation and pointers in the question; NOTIMP for other opcodes', () => {
    const name = Buffer.from([4, ...Buffer.from('vm10'), 0, 0, 1, 0, 1]);
    const cases: [Buffer, string, number][] = [
      [header({ qd: 0 }), 'qdcount-0', Rcode.FORMERR],
      [Buffer.concat([header({ qd: 0xffff, an: 0xffff, ns: 0xffff, ar: 0xffff })]), 'qdcount-65535', Rcode.FORMERR],
      [Buffer.concat([header({ an: 1 }), name]), 'records-in-query', Rcode.FORMERR],
      [Buffer.concat([header({ ar: 0xffff }), name]), 'arcount-65535', Rcode.FORMERR],
      [header({}), 'truncated-qname', Rcode.FORMERR],
      [Buffer.concat([header({}), Buffer.from([4, 0x76])]), 'truncated-qname', Rcode.FORMERR],
      [Buffer.concat([header({}), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), 'pointer-in-qname', Rcode.FORMERR],
      [Buffer.concat([header({}), Buffer.from([0x40, 0, 0, 1, 0, 1])]), 'pointer-in-qname', Rcode.FORMERR],
      [Buffer.concat([header({}), Buffer.from([0, 0, 1])]), 'truncated-question', Rcode.FORMERR],
      [Buffer.concat([header({}), Buffer.alloc(300, 1)]), 'qname-too-long', Rcode.FORMERR],
      [Buffer.concat([header({ flags: 5 << 11 }), name]), 'opcode-5', Rcode.NOTIMP],
    ];
    for (const [buf, reason, rcode] of cases) {
      const p = parseQuery(buf);
      assert.ok(!p.ok, reason);
      assert.equal(p.reason, reason);
      assert.equal(p.rcode, rcode);
      const out = respond(buf, zone, udp);
      assert.equal(out.kind, 'reply');
      if (out.kind === 'reply') {
        assertValidReply(buf, out.bytes);
        assert.equal(out.bytes.length, 12, 'an error reply never amplifies');
      }
    }
  });

  it('FORMERR for a broken or doubled OPT record', () => {
    const q = query('vm10.lab.test', 'A', { udpSize: 1232 });
    const two = Buffer.from(q);
    two.writeUInt16BE(2, 10);
    const doubled = Buffer.concat([two, q.subarray(q.length - 11)]);
    assert.equal((parseQuery(doubled) as { reason?: string }).reason, 'bad-opt');
    assert.equal((parseQuery(q.subarray(0, q.length - 3)) as { reason?: string }).reason, 'bad-additional');
  });
});

describe('wire: dns-packet on hostile names (used for the additional section)', () => {
  // Verifies the property parseQuery relies on: dns-packet only follows pointers to earlier
  // offsets (each jump strictly backwards), so a compression loop throws instead of spinning.
  const rr = (nameBytes: number[]) => Buffer.from([...nameBytes, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
  const codec = (dnsPacket as unknown as { answer: { decode(b: Buffer, o: number): unknown } }).answer;
  it('self pointer, forward pointer and a two-pointer loop all throw', () => {
    const self = Buffer.concat([Buffer.alloc(12), rr([0xc0, 12])]);
    assert.throws(() => codec.decode(self, 12), /bad pointer/);
    const fwd = Buffer.concat([Buffer.alloc(12), rr([0xc0, 20])]);
    assert.throws(() => codec.decode(fwd, 12), /bad pointer/);
    // offset 12: pointer to 14; offset 14: pointer to 12.
    const loop = Buffer.concat([Buffer.alloc(12), Buffer.from([0xc0, 14, 0xc0, 12]), rr([0xc0, 14])]);
    assert.throws(() => codec.decode(loop, 16));
  });

  it('a hostile OPT with a looping owner gets FORMERR from respond()', () => {
    const q = query('vm10.lab.test', 'A');
    q.writeUInt16BE(1, 10);
    const msg = Buffer.concat([q, Buffer.from([0xc0, q.length, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0])]);
    const out = respond(msg, zone, udp);
    assert.equal(out.kind === 'reply' && out.rcode, Rcode.FORMERR);
  });
});

describe('wire: EDNS and truncation', () => {
  it('echoes an OPT advertising 1232 when the query has one, none otherwise', () => {
    const withOpt = respond(query('vm10.lab.test', 'A', { udpSize: 4096 }), zone, udp);
    assert.ok(withOpt.kind === 'reply');
    const d = dnsPacket.decode(withOpt.bytes);
    const opt = d.additionals!.find((a) => a.type === 'OPT') as unknown as { udpPayloadSize: number };
    assert.equal(opt.udpPayloadSize, 1232);
    const plain = respond(query('vm10.lab.test', 'A'), zone, udp);
    assert.ok(plain.kind === 'reply');
    assert.equal(dnsPacket.decode(plain.bytes).additionals!.length, 0);
  });

  it('sets TC when the answer exceeds 512 bytes (no EDNS) or the EDNS size, not otherwise', () => {
    const tc = (msg: Buffer, transport: 'udp' | 'tcp' = 'udp') => {
      const out = respond(msg, zone, { transport, mayForward: false });
      assert.ok(out.kind === 'reply');
      const d = dnsPacket.decode(out.bytes);
      return { tc: d.flag_tc, answers: d.answers!.length, size: out.bytes.length };
    };
    const plain = tc(query('big.lab.test', 'HINFO'));
    assert.deepEqual([plain.tc, plain.answers], [true, 0]);
    assert.ok(plain.size <= 512);
    assert.equal(tc(query('big.lab.test', 'HINFO', { udpSize: 512 })).tc, true);
    assert.equal(tc(query('big.lab.test', 'HINFO', { udpSize: 100 })).tc, true, 'sizes below 512 count as 512');
    const big = tc(query('big.lab.test', 'HINFO', { udpSize: 1232 }));
    assert.deepEqual([big.tc, big.answers], [false, 1]);
    assert.ok(big.size > 512);
    assert.deepEqual(tc(query('big.lab.test', 'HINFO'), 'tcp').tc, false);
  });

  it('BADVERS for EDNS versions other than 0 (RFC 6891 §6.1.3)', () => {
    const out = respond(query('vm10.lab.test', 'A', { udpSize: 1232, ednsVersion: 1 }), zone, udp);
    assert.ok(out.kind === 'reply');
    assert.equal(out.rcode, 16);
    const opt = dnsPacket.decode(out.bytes).additionals!.find((a) => a.type === 'OPT') as unknown as { extendedRcode: number };
    assert.equal(opt.extendedRcode, 1);
  });
});

describe('wire: properties', () => {
  const valid = fc.constantFrom(
    query('vm10.lab.test', 'A'),
    query('VM10.lab.test', 'HINFO', { udpSize: 1232 }),
    query('big.lab.test', 'HINFO'),
    query('nope.lab.test', 'AAAA', { udpSize: 4096 }),
    query('example.org', 'A'),
    query('10.0.77.10.in-addr.arpa', 'PTR'),
  );
  const mutated = fc
    .tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat())
    .map(([q, edits, cut]) => {
      const b = Buffer.from(q);
      for (const [pos, byte] of edits) b[pos % b.length] = byte;
      return cut % 3 === 0 ? b.subarray(0, cut % (b.length + 1)) : b;
    });
  const hostileHeader = fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 600 }))
    .map(([flags, count, rest]) => {
      const b = Buffer.concat([header({ flags: flags & 0x7fff, qd: 1, ar: count }), Buffer.from(rest)]);
      return b;
    });
  const anyBytes = fc.uint8Array({ maxLength: 1024 }).map((u) => Buffer.from(u));

  it('any bytes give nothing or a valid DNS response with the same ID', { timeout: 60_000 }, () => {
    const seen = new Set<number>();
    fc.assert(
      fc.property(fc.oneof(anyBytes, mutated, hostileHeader), fc.constantFrom<'udp' | 'tcp'>('udp', 'tcp'), (msg, transport) => {
        const out = respond(msg, zone, { transport, mayForward: false });
        if (out.kind === 'drop') {
          assert.ok(msg.length < 12 || (msg[2]! & 0x80) !== 0, 'only headerless messages and responses are dropped');
          return;
        }
        assert.equal(out.kind, 'reply');
        if (out.kind === 'reply') {
          assertValidReply(msg, out.bytes);
          const p = parseQuery(msg);
          if (transport === 'udp') assert.ok(out.bytes.length <= (p.ok ? udpLimit(p.query) : 512), 'a UDP reply fits the client limit');
          seen.add(out.rcode);
        }
      }),
      { numRuns: 3000 },
    );
    // The generators reach the interesting paths, not only FORMERR.
    for (const rcode of [Rcode.NOERROR, Rcode.FORMERR, Rcode.NXDOMAIN, Rcode.REFUSED]) assert.ok(seen.has(rcode), `rcode ${rcode} exercised`);
  });

  it('a 64 KiB message of maximal counts and labels is handled (linear time, no throw)', { timeout: 10_000 }, () => {
    const big = Buffer.alloc(65535, 0x3f);
    big.writeUInt16BE(0, 2);
    big.writeUInt16BE(0xffff, 4);
    for (const b of [big, Buffer.concat([header({ ar: 2 }), Buffer.alloc(65000, 0xc0)])]) {
      const out = respond(b, zone, udp);
      assert.equal(out.kind === 'reply' && out.rcode, Rcode.FORMERR);
    }
  });
});

describe('framing (RFC 7766)', () => {
  it('splits pipelined messages across arbitrary chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }), (msgs, cuts) => {
        const stream = Buffer.concat(msgs.map((m) => frame(Buffer.from(m))));
        const r = new FrameReader();
        const got: Buffer[] = [];
        let off = 0;
        for (let i = 0; off < stream.length; i++) {
          const n = cuts[i % cuts.length]!;
          const res = r.push(stream.subarray(off, off + n));
          assert.equal(res.error, undefined);
          got.push(...res.messages);
          off += n;
        }
        assert.deepEqual(got.map((b) => [...b]), msgs.map((m) => [...m]));
        assert.equal(r.pending, 0);
      }),
    );
  });

  it('frameAll: a batch of answers is the same bytes as each framed on its own, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { minLength: 1, maxLength: 8 }), (msgs) => {
        const bufs = msgs.map((m) => Buffer.from(m));
        const batch = frameAll(bufs);
        assert.deepEqual([...batch], [...Buffer.concat(bufs.map((b) => frame(b)))]);
        assert.deepEqual(new FrameReader().push(batch).messages.map((b) => [...b]), msgs.map((m) => [...m]));
      }),
    );
  });

  it('a zero-length message is an error', () => {
    const r = new FrameReader();
    assert.equal(r.push(Buffer.from([0, 0])).error, 'zero-length-message');
  });
});
