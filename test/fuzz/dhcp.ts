/**
 * DHCP fuzz packets: captured dhclient/udhcpc packets mutated, structure-aware BOOTP/DHCP
 * packets with hostile options (overruns, option overload, relay info, PXE options, bad lengths),
 * and plain random bytes. Sent to 3rc's port 67 from random sources.
 */
import { mutate, type Rng, type Seed } from './random.js';
import { CHECK_HOST, FUZZ_MACS, macBytes, randomSource, type Job } from './sources.js';

const CHECK_MAC = macBytes(CHECK_HOST.mac);
const COOKIE = Buffer.from([99, 130, 83, 99]);

function randomMac(rng: Rng): Buffer {
  return rng.chance(0.5) ? macBytes(rng.pick(FUZZ_MACS)) : Buffer.concat([Buffer.from([0x52, 0x54, 0x00]), rng.bytes(3)]);
}

function addr(rng: Rng): Buffer {
  const r = rng.int(6);
  if (r === 0) return Buffer.alloc(4);
  if (r === 1) return Buffer.from([255, 255, 255, 255]);
  if (r === 2) return Buffer.from([10, 77, 0, rng.int(256)]);
  if (r === 3) return Buffer.from([10, 77, rng.int(256), rng.int(256)]);
  return rng.bytes(4);
}

function option(code: number, value: Buffer, rng: Rng): Buffer {
  // Sometimes a length that lies (longer or shorter than the value).
  const len = rng.chance(0.08) ? rng.int(256) : Math.min(255, value.length);
  return Buffer.concat([Buffer.from([code, len]), value.subarray(0, 255)]);
}

function options(rng: Rng): Buffer {
  const parts: Buffer[] = [option(53, Buffer.from([rng.chance(0.9) ? rng.range(1, 8) : rng.int(256)]), rng)];
  const n = rng.int(10);
  for (let i = 0; i < n; i++) {
    switch (rng.int(12)) {
      case 0: parts.push(option(50, addr(rng), rng)); break;
      case 1: parts.push(option(54, rng.chance(0.5) ? Buffer.from([10, 77, 0, 1]) : addr(rng), rng)); break;
      case 2: parts.push(option(55, rng.bytes(rng.size(255)), rng)); break;
      case 3: parts.push(option(60, Buffer.from(rng.pick(['PXEClient:Arch:00000:UNDI:002001', 'PXEClient:Arch:00007:UNDI:003016', 'HTTPClient:Arch:00016', 'udhcp 1.35.0', rng.text(rng.size(255), 'PXEClient:Arch0123456789')])), rng)); break;
      case 4: parts.push(option(93, rng.chance(0.7) ? Buffer.from([0, rng.pick([0, 6, 7, 9, 10, 11, 16, 255])]) : rng.bytes(rng.size(8)), rng)); break;
      case 5: parts.push(option(77, Buffer.from(rng.pick(['iPXE', 'iPXE\0', '', rng.text(rng.size(64), 'iPXE')])), rng)); break;
      case 6: {
        // Relay agent information: sub-options with their own (possibly lying) lengths.
        const subs: Buffer[] = [];
        for (let k = rng.int(4); k > 0; k--) subs.push(Buffer.concat([Buffer.from([rng.range(1, 12), rng.int(40)]), rng.bytes(rng.size(40))]));
        parts.push(option(82, Buffer.concat(subs), rng));
        break;
      }
      case 7: parts.push(option(52, Buffer.from([rng.range(0, 4)]), rng)); break;
      case 8: parts.push(option(61, Buffer.concat([Buffer.from([1]), randomMac(rng)]), rng)); break;
      case 9: parts.push(option(97, Buffer.concat([Buffer.from([0]), rng.bytes(16)]), rng)); break;
      case 10: parts.push(option(12, Buffer.from(rng.text(rng.size(255), 'abcdefghij-.0123\u00ff')), rng)); break;
      default: parts.push(option(rng.int(256), rng.bytes(rng.size(255)), rng));
    }
  }
  if (rng.chance(0.1)) parts.push(Buffer.alloc(rng.size(300))); // pad
  if (rng.chance(0.9)) parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}

/** A BOOTP/DHCP packet built field by field, most fields plausible, some not. */
function structured(rng: Rng): Buffer {
  const h = Buffer.alloc(236);
  h[0] = rng.chance(0.9) ? 1 : rng.int(256);
  h[1] = rng.chance(0.9) ? 1 : rng.int(256);
  h[2] = rng.chance(0.9) ? 6 : rng.pick([0, 16, 17, 255]);
  h[3] = rng.chance(0.8) ? 0 : rng.int(256);
  rng.bytes(4).copy(h, 4);
  h.writeUInt16BE(rng.int(65536), 8);
  h.writeUInt16BE(rng.chance(0.5) ? 0x8000 : rng.int(65536), 10);
  for (const off of [12, 16, 20, 24]) if (rng.chance(0.3)) addr(rng).copy(h, off);
  randomMac(rng).copy(h, 28);
  if (rng.chance(0.1)) rng.bytes(10).copy(h, 34);
  if (rng.chance(0.15)) Buffer.concat([rng.chance(0.5) ? options(rng) : rng.bytes(64)]).subarray(0, 64).copy(h, 44); // sname, used by overload 2/3
  if (rng.chance(0.15)) (rng.chance(0.5) ? options(rng) : Buffer.from(rng.text(128, 'pxelinux.0/../\0'))).subarray(0, 128).copy(h, 108);
  const cookie = rng.chance(0.95) ? COOKIE : rng.bytes(4);
  const body = Buffer.concat([h, cookie, options(rng)]);
  return rng.chance(0.05) ? body.subarray(0, rng.int(body.length)) : body;
}

/** Never the liveness check's MAC, so that no fuzzed DECLINE quarantines the address it checks. */
function sparingCheckHost(b: Buffer): Buffer {
  if (b.length >= 34 && b.subarray(28, 34).equals(CHECK_MAC)) b[33] = b[33]! ^ 1;
  return b;
}

export function dhcpJob(rng: Rng, seeds: readonly Seed[]): Job {
  const r = rng.next();
  let payload: Buffer;
  if (r < 0.4 && seeds.length) {
    const base = Buffer.from(rng.pick(seeds).bytes);
    if (rng.chance(0.5) && base.length >= 34) randomMac(rng).copy(base, 28);
    payload = mutate(rng, base, seeds.map((s) => s.bytes), 1500);
  } else if (r < 0.85) payload = structured(rng);
  else payload = rng.bytes(rng.size(1500));
  const src = randomSource(rng, [68, 67, 0, 4011]);
  return { type: 'udp', src, dport: 67, payload: sparingCheckHost(payload) };
}
