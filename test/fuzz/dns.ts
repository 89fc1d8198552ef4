/**
 * DNS fuzz messages, over UDP and TCP: captured dig queries mutated, queries built with hostile
 * names (compression pointer loops, labels and names over their limits), counts that lie, odd
 * types, classes, opcodes and EDNS records, random bytes; over TCP, several messages a
 * connection with length prefixes that lie, split writes and half-closed streams.
 */
import { mutate, type Rng, type Seed } from './random.js';
import { CLIENT_ADDRS, randomSource, type Job } from './sources.js';

const NAMES = ['vm10.lab.test', 'lab.test', 'vm14.lab.test', 'nohost.lab.test', '10.0.77.10.in-addr.arpa', '0.77.10.in-addr.arpa', 'example.org', '', 'a.b.c.d.e.f.lab.test'];

function encodeName(rng: Rng, name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.split('.').filter(Boolean)) {
    const l = Buffer.from(label);
    parts.push(Buffer.from([rng.chance(0.03) ? rng.int(256) : l.length]), l);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function hostileName(rng: Rng): Buffer {
  switch (rng.int(6)) {
    case 0: return Buffer.from([0xc0, 12]); // points at itself
    case 1: return Buffer.from([0xc0, rng.int(256)]); // anywhere, maybe forward or past the end
    case 2: return Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61), Buffer.from([64]), Buffer.alloc(64, 0x62), Buffer.from([0])]);
    case 3: return Buffer.concat([...Array.from({ length: 130 }, () => Buffer.from([1, 0x61])), Buffer.from([0])]); // name > 255
    case 4: return Buffer.concat([Buffer.from([3, 0x76, 0x6d, 0x31, 0xc0, 12])]);
    default: return Buffer.from([rng.pick([0x40, 0x80, 0xbf]), rng.int(256), 0]); // reserved label types
  }
}

const TYPES = [1, 2, 6, 12, 13, 28, 41, 252, 251, 255, 0, 65535];

/** A query built field by field. */
function structured(rng: Rng): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(rng.int(65536), 0);
  h.writeUInt16BE(rng.chance(0.8) ? 0x0100 : rng.int(65536), 2);
  const qd = rng.chance(0.85) ? 1 : rng.pick([0, 2, 3, 65535]);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(rng.chance(0.9) ? 0 : rng.int(65536), 6);
  h.writeUInt16BE(rng.chance(0.9) ? 0 : rng.int(65536), 8);
  const edns = rng.chance(0.4);
  h.writeUInt16BE(edns ? (rng.chance(0.9) ? 1 : rng.int(65536)) : rng.chance(0.95) ? 0 : rng.int(65536), 10);
  const parts: Buffer[] = [h];
  for (let i = 0; i < Math.min(qd, 3); i++) {
    parts.push(rng.chance(0.8) ? encodeName(rng, rng.pick(NAMES)) : hostileName(rng));
    const tc = Buffer.alloc(4);
    tc.writeUInt16BE(rng.chance(0.8) ? rng.pick(TYPES) : rng.int(65536), 0);
    tc.writeUInt16BE(rng.chance(0.85) ? 1 : rng.pick([3, 254, 255, rng.int(65536)]), 2);
    parts.push(tc);
  }
  if (edns) {
    const opt = Buffer.alloc(11);
    opt[0] = 0;
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(rng.pick([0, 1, 511, 512, 1232, 4096, 65535]), 3);
    opt[5] = 0;
    opt[6] = rng.chance(0.8) ? 0 : rng.int(256); // version
    opt.writeUInt16BE(rng.chance(0.5) ? 0x8000 : rng.int(65536), 7);
    const rdata = rng.chance(0.5) ? Buffer.concat([Buffer.from([0, rng.pick([3, 8, 10, 12, 15]), 0, rng.int(40)]), rng.bytes(rng.size(40))]) : Buffer.alloc(0);
    opt.writeUInt16BE(rng.chance(0.9) ? rdata.length : rng.int(65536), 9);
    parts.push(opt, rdata);
  }
  const body = Buffer.concat(parts);
  return rng.chance(0.05) ? body.subarray(0, rng.int(body.length)) : body;
}

function message(rng: Rng, seeds: readonly Seed[]): Buffer {
  const r = rng.next();
  if (r < 0.4 && seeds.length) return mutate(rng, rng.pick(seeds).bytes, seeds.map((s) => s.bytes), 4000);
  if (r < 0.9) return structured(rng);
  return rng.bytes(rng.size(1500));
}

export function dnsUdpJob(rng: Rng, seeds: readonly Seed[]): Job {
  return { type: 'udp', src: randomSource(rng, [53, 0, 5353]), dport: 53, payload: message(rng, seeds) };
}

/** One TCP connection with up to 8 messages, framed honestly or not. */
export function dnsTcpJob(rng: Rng, seeds: readonly Seed[]): Job {
  const frames: Buffer[] = [];
  const n = rng.range(1, 8);
  for (let i = 0; i < n; i++) {
    const m = message(rng, seeds);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(rng.chance(0.9) ? m.length : rng.pick([0, 1, 2, 65535, m.length + 1, Math.max(0, m.length - 1)]), 0);
    frames.push(len, m);
  }
  let payload = Buffer.concat(frames);
  if (rng.chance(0.05)) payload = payload.subarray(0, rng.int(payload.length)); // cut mid-frame
  if (rng.chance(0.03)) payload = Buffer.concat([payload, rng.bytes(rng.size(4000))]);
  return { type: 'tcp', bind: rng.pick(CLIENT_ADDRS), dport: 53, payload, halfClose: rng.chance(0.7), split: rng.chance(0.2), waitMs: 400, messages: n };
}
