/**
 * Load and hostility against a real `3rc serve` child: a short dnsperf run that must lose no
 * query, then a fuzz run (random and mutated packets over UDP and TCP) during which a real dig
 * keeps getting correct answers. Nothing here measures speed (bench/dns.ts does).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { serve, writeLabConfig, type LabConfig, type Served } from '../lib/serve.js';
import { dig1 } from './dig.js';

const DNSPERF = '/usr/bin/dnsperf';

let cfg: LabConfig;
let srv: Served;

before(async () => {
  cfg = await writeLabConfig({ servers: { dns: { ttl: '5m', tcpIdleTimeout: '10s' } } });
  srv = await serve(cfg);
});

after(async () => {
  await srv?.stop();
  cfg?.cleanup();
});

/** Fields of dnsperf's summary. */
export function parseDnsperf(text: string): { sent: number; completed: number; lost: number; qps: number; rcodes: Record<string, number> } {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    if (!m) throw new Error(`dnsperf output without ${re}: ${text}`);
    return Number(m[1]);
  };
  const rcodes: Record<string, number> = {};
  const rc = /Response codes:\s+(.*)/.exec(text);
  if (rc) for (const m of rc[1]!.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]!] = Number(m[2]);
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    rcodes,
  };
}

describe('dnsperf', { skip: existsSync(DNSPERF) ? undefined : `needs ${DNSPERF} (apt-get install dnsperf)` }, () => {
  it('a 3-second run over UDP loses no query and gets only the expected rcodes', { timeout: 30_000 }, async () => {
    const data = join(cfg.dir, 'queries.txt');
    writeFileSync(data, ['vm10.lab.test A', 'vm11.lab.test HINFO', '12.0.77.10.in-addr.arpa PTR', 'lab.test SOA', 'nope.lab.test A', 'vm13.lab.test AAAA'].join('\n') + '\n');
    const out = await new Promise<string>((resolve, reject) =>
      execFile(DNSPERF, ['-s', '127.0.0.1', '-p', String(cfg.ports.dns), '-d', data, '-l', '3', '-t', '5'], { timeout: 25_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
    );
    const r = parseDnsperf(out);
    assert.ok(r.completed > 0, out);
    assert.equal(r.lost, 0, out);
    assert.equal(r.completed, r.sent, out);
    assert.deepEqual(Object.keys(r.rcodes).sort(), ['NOERROR', 'NXDOMAIN'], out);
  });
});

/** A small seeded PRNG (mulberry32), so a failing fuzz run can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fuzz', () => {
  it('random and mutated packets over UDP and TCP while dig keeps getting correct answers', { timeout: 40_000 }, async () => {
    const seed = Number(process.env.DNS_FUZZ_SEED ?? Date.now() % 1_000_000);
    const rnd = prng(seed);
    const int = (n: number) => Math.floor(rnd() * n);
    const port = cfg.ports.dns;
    const valid = [
      dnsPacket.encode({ type: 'query', id: 1, flags: 256, questions: [{ name: 'vm10.lab.test', type: 'A' }] }),
      dnsPacket.encode({ type: 'query', id: 2, questions: [{ name: 'vm11.lab.test', type: 'HINFO' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as unknown as dnsPacket.Answer] }),
      dnsPacket.encode({ type: 'query', id: 3, questions: [{ name: '10.0.77.10.in-addr.arpa', type: 'PTR' }] }),
    ].map((b) => Buffer.from(b));
    const packet = (): Buffer => {
      switch (int(4)) {
        case 0:
          return Buffer.from(Array.from({ length: int(600) }, () => int(256)));
        case 1: {
          const b = Buffer.from(valid[int(valid.length)]!);
          for (let i = int(8) + 1; i > 0; i--) b[int(b.length)] = int(256);
          return int(3) === 0 ? b.subarray(0, int(b.length + 1)) : b;
        }
        case 2: {
          // Hostile header: huge counts, a compression loop in the question.
          const b = Buffer.from([int(256), int(256), 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 12, 0xc0, 14, 0, 1, 0, 1]);
          b.writeUInt16BE(int(2) ? 1 : 0xffff, 4);
          return b;
        }
        default:
          return Buffer.alloc(int(13));
      }
    };

    let stop = false;
    const udp = dgram.createSocket('udp4');
    udp.on('message', () => {});
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    let sentUdp = 0;
    const udpFuzz = (async () => {
      while (!stop) {
        for (let i = 0; i < 50; i++, sentUdp++) udp.send(packet(), port, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    let tcpConns = 0;
    const tcpFuzz = (async () => {
      while (!stop) {
        tcpConns++;
        await new Promise<void>((resolve) => {
          const c = net.createConnection({ host: '127.0.0.1', port }, () => {
            const parts: Buffer[] = [];
            for (let i = int(5) + 1; i > 0; i--) {
              const p = packet();
              const len = Buffer.alloc(2);
              len.writeUInt16BE(int(4) === 0 ? int(0x10000) : p.length);
              parts.push(len, p);
            }
            c.end(Buffer.concat(parts));
          });
          c.on('data', () => {});
          c.on('error', () => resolve());
          c.on('close', () => resolve());
          // The idle timeout (10 s) would close a stalled one; the fuzzer does not wait that long.
          setTimeout(() => c.destroy(), 500);
        });
      }
    })();

    try {
      const checks: [string[], (m: Awaited<ReturnType<typeof dig1>>) => void][] = [
        [['+notcp', 'vm10.lab.test', 'A'], (m) => assert.deepEqual(m.answer.map((r) => r[4]), ['10.77.0.10'])],
        [['+tcp', 'vm11.lab.test', 'HINFO'], (m) => assert.deepEqual(m.answer.map((r) => r.slice(4).join(' ')), ['"services" "debian12"'])],
        [['+notcp', '-x', '10.77.0.12'], (m) => assert.deepEqual(m.answer.map((r) => r[4]), ['vm12.lab.test.'])],
        [['+tcp', 'nope.lab.test', 'A'], (m) => assert.equal(m.status, 'NXDOMAIN')],
      ];
      for (let round = 0; round < 10; round++) {
        for (const [args, check] of checks) check(await dig1(port, args));
      }
    } finally {
      stop = true;
      await udpFuzz;
      await tcpFuzz;
      udp.close();
    }
    assert.ok(sentUdp > 100 && tcpConns > 5, `fuzz sent ${sentUdp} datagrams and ${tcpConns} connections (seed ${seed})`);
    // Still alive, and no handler error was logged.
    assert.equal((await dig1(port, ['vm13.lab.test', 'A'])).answer[0]![4], '10.77.0.13');
    assert.equal(srv.proc.exitCode, null);
    assert.ok(!srv.lines.some((l) => l.includes('query handler failed')), `seed ${seed}`);
  });
});
