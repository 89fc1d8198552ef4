/**
 * The real `dig` against a real `3rc serve` child on loopback, over UDP and TCP: every record
 * type and error case, EDNS, truncation, several queries on one TCP connection, and the
 * HINFO-driven post-install script (kickstarts/post-install/role.sh).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { LAB_YAML, ROOT, serve, writeLabConfig, type LabConfig, type Served } from '../lib/serve.js';
import { dig, dig1 } from './dig.js';

const labHosts = (parse(readFileSync(LAB_YAML, 'utf8')) as { hosts: Record<string, unknown>[] }).hosts;
const hosts = [
  ...labHosts.map((h) => (h.name === 'vm11' ? { ...h, ipv6: 'fd77::11' } : h)),
  // 2 x 255-byte HINFO strings: the answer is about 570 bytes, more than 512.
  { name: 'big', mac: '52:54:00:77:00:99', ip: '10.77.0.99', profile: 'debian12', hinfo: { cpu: 'c'.repeat(255), os: 'o'.repeat(255) } },
  // A HINFO cpu string (where role.sh reads the role) that is not a plain name: role.sh must refuse
  // it. The config refuses such a `role`; an explicit `hinfo` (or a spoofed answer) can still carry it.
  { name: 'evil', mac: '52:54:00:77:00:98', ip: '10.77.0.98', profile: 'debian12', hinfo: { cpu: '../../tmp', os: 'debian12' } },
];

let cfg: LabConfig;
let srv: Served;
let port: number;

before(async () => {
  // ttl and tcpIdleTimeout are spelled out: the tests below assert on them (TTL 300).
  // vm11's IPv6 address must be inside a configured prefix (issue 23); no DHCPv6 server here.
  cfg = await writeLabConfig({ hosts, network: { ipv6: { serverIp: 'fd77::1', prefixes: [{ prefix: 'fd77::/64' }] } }, log: { level: 'debug' }, servers: { dns: { ttl: '5m', tcpIdleTimeout: '10s' }, dhcp6: { enabled: false } } });
  srv = await serve(cfg);
  port = cfg.ports.dns;
});

after(async () => {
  await srv?.stop();
  cfg?.cleanup();
});

const data = (rr: string[]) => rr.slice(4).join(' ');

for (const transport of ['udp', 'tcp'] as const) {
  const t = transport === 'tcp' ? ['+tcp'] : ['+notcp'];
  // network.ipv6 is set: 3rc serves DNS on :: as well (servers.dns.listen6), here reached on ::1.
  describe(`dig over IPv6, ${transport}`, () => {
    it('AAAA and A asked over IPv6', async () => {
      const m = await dig1(port, [...t, 'vm11.lab.test', 'AAAA'], { server: '::1' });
      assert.equal(m.status, 'NOERROR');
      assert.ok(m.flags.includes('aa'));
      assert.deepEqual(m.answer.map(data), ['fd77::11']);
      assert.deepEqual((await dig1(port, [...t, 'vm10.lab.test', 'A'], { server: '::1' })).answer.map(data), ['10.77.0.10']);
    });

    it('PTR in ip6.arpa for a host with an address in a served prefix; NXDOMAIN for another one', async () => {
      const m = await dig1(port, [...t, '-x', 'fd77::11'], { server: '::1' });
      assert.ok(m.flags.includes('aa'));
      assert.deepEqual(m.answer.map(data), ['vm11.lab.test.']);
      const miss = await dig1(port, [...t, '-x', 'fd77::99'], { server: '::1' });
      assert.equal(miss.status, 'NXDOMAIN');
      assert.equal(miss.authority[0]![0], '0.0.0.0.0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa.');
    });
  });

  describe(`dig over ${transport}`, () => {
    it('A', async () => {
      const m = await dig1(port, [...t, 'vm10.lab.test', 'A']);
      assert.equal(m.status, 'NOERROR');
      assert.ok(m.flags.includes('aa'));
      assert.equal(m.transport, transport.toUpperCase());
      assert.deepEqual(m.answer, [['vm10.lab.test.', '300', 'IN', 'A', '10.77.0.10']]);
    });

    it('AAAA', async () => {
      const m = await dig1(port, [...t, 'vm11.lab.test', 'AAAA']);
      assert.deepEqual(m.answer.map(data), ['fd77::11']);
    });

    it('PTR', async () => {
      const m = await dig1(port, [...t, '-x', '10.77.0.13']);
      assert.ok(m.flags.includes('aa'));
      assert.deepEqual(m.answer.map(data), ['vm13.lab.test.']);
    });

    it('HINFO', async () => {
      const m = await dig1(port, [...t, 'vm10.lab.test', 'HINFO']);
      assert.deepEqual(m.answer.map(data), ['"middleware" "debian12"']);
      const m12 = await dig1(port, [...t, 'vm12.lab.test', 'HINFO']);
      assert.deepEqual(m12.answer.map(data), ['"middleware" "rocky9"']);
    });

    it('SOA', async () => {
      const m = await dig1(port, [...t, 'lab.test', 'SOA']);
      assert.equal(m.answer.length, 1);
      const [mname, rname, serial, , , , minimum] = m.answer[0]!.slice(4);
      assert.equal(mname, 'ns.lab.test.');
      assert.equal(rname, 'hostmaster.lab.test.');
      assert.ok(Number(serial) > 0);
      assert.equal(minimum, '300');
      const rev = await dig1(port, [...t, '0.77.10.in-addr.arpa', 'SOA']);
      assert.equal(rev.answer[0]![0], '0.77.10.in-addr.arpa.');
    });

    it('NS with the addresses of the name server (network.serverIp and network.ipv6.serverIp)', async () => {
      const m = await dig1(port, [...t, 'lab.test', 'NS']);
      assert.deepEqual(m.answer.map(data), ['ns.lab.test.']);
      assert.deepEqual(m.additional.map((r) => [r[0], r[3], r[4]]), [['ns.lab.test.', 'A', '10.77.0.1'], ['ns.lab.test.', 'AAAA', 'fd77::1']]);
    });

    it('NXDOMAIN with the SOA in authority', async () => {
      const m = await dig1(port, [...t, 'nope.lab.test', 'A']);
      assert.equal(m.status, 'NXDOMAIN');
      assert.ok(m.flags.includes('aa'));
      assert.equal(m.answer.length, 0);
      assert.deepEqual(m.authority.map((r) => [r[0], r[3]]), [['lab.test.', 'SOA']]);
      const rev = await dig1(port, [...t, '-x', '10.77.0.200']);
      assert.equal(rev.status, 'NXDOMAIN');
    });

    it('NODATA: NOERROR, no answer, SOA in authority', async () => {
      const m = await dig1(port, [...t, 'vm10.lab.test', 'AAAA']);
      assert.equal(m.status, 'NOERROR');
      assert.equal(m.answer.length, 0);
      assert.deepEqual(m.authority.map((r) => r[3]), ['SOA']);
    });

    it('REFUSED outside the zone (no forwarders configured)', async () => {
      for (const name of ['example.org', '8.8.8.8.in-addr.arpa']) {
        const m = await dig1(port, [...t, name, 'A']);
        assert.equal(m.status, 'REFUSED');
        assert.ok(!m.flags.includes('aa'));
      }
    });

    it('EDNS: OPT echoed with our size; none without EDNS', async () => {
      const m = await dig1(port, [...t, '+bufsize=4000', 'vm10.lab.test']);
      assert.equal(m.ednsUdp, 1232);
      const n = await dig1(port, [...t, '+noedns', 'vm10.lab.test']);
      assert.equal(n.ednsUdp, null);
      assert.equal(n.status, 'NOERROR');
    });

    it('case of the question is echoed, answer found', async () => {
      const r = await dig(port, [...t, 'VM10.LAB.Test', 'A']);
      assert.match(r.stdout, /;VM10\.LAB\.Test\.\s+IN\s+A/);
      assert.deepEqual(r.messages[0]!.answer.map(data), ['10.77.0.10']);
    });
  });
}

describe('truncation (a 570-byte HINFO answer)', () => {
  it('UDP without EDNS: TC, no answer', async () => {
    const m = await dig1(port, ['+notcp', '+noedns', '+ignore', 'big.lab.test', 'HINFO']);
    assert.ok(m.flags.includes('tc'), m.flags.join(' '));
    assert.equal(m.answer.length, 0);
    assert.ok(m.size! <= 512);
  });

  it('UDP with +bufsize=512: TC; with +bufsize=1232: the whole answer', async () => {
    const small = await dig1(port, ['+notcp', '+bufsize=512', '+ignore', 'big.lab.test', 'HINFO']);
    assert.ok(small.flags.includes('tc'));
    const large = await dig1(port, ['+notcp', '+bufsize=1232', '+ignore', 'big.lab.test', 'HINFO']);
    assert.ok(!large.flags.includes('tc'));
    assert.equal(large.answer.length, 1);
    assert.ok(large.size! > 512, `size ${large.size}`);
  });

  it('dig retries a truncated answer over TCP and gets it', async () => {
    const r = await dig(port, ['+notcp', '+noedns', 'big.lab.test', 'HINFO']);
    assert.match(r.stdout, /Truncated, retrying in TCP mode/);
    const last = r.messages.at(-1)!;
    assert.equal(last.transport, 'TCP');
    assert.equal(last.answer.length, 1);
    assert.equal(last.answer[0]![4], `"${'c'.repeat(255)}"`);
  });
});

describe('TCP: several queries on one connection', () => {
  it('dig +keepopen sends three queries over one connection, all answered', async () => {
    const before = srv.lines.length;
    const r = await dig(port, ['+tcp', '+keepopen', 'vm10.lab.test', 'A', 'vm11.lab.test', 'HINFO', 'nope.lab.test', 'A']);
    assert.deepEqual(r.messages.map((m) => m.status), ['NOERROR', 'NOERROR', 'NXDOMAIN']);
    assert.deepEqual(r.messages[1]!.answer.map(data), ['"services" "debian12"']);
    // The server's debug log names the peer of each query: one client port for all three.
    const peers = srv.lines
      .slice(before)
      .map((l) => JSON.parse(l) as { msg?: string; transport?: string; peer?: string })
      .filter((l) => l.msg === 'dns: query' && l.transport === 'tcp')
      .map((l) => l.peer);
    assert.equal(peers.length, 3, JSON.stringify(peers));
    assert.equal(new Set(peers).size, 1, JSON.stringify(peers));
  });
});

describe('post-install: kickstarts/post-install/role.sh', () => {
  const script = join(ROOT, 'kickstarts', 'post-install', 'role.sh');
  const roles = join(ROOT, 'kickstarts', 'roles');
  const run = (fqdn: string, env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'sh',
        [script],
        { timeout: 30_000, env: { PATH: process.env.PATH, THREERC_DNS: '127.0.0.1', THREERC_DNS_PORT: String(port), THREERC_FQDN: fqdn, THREERC_RETRIES: '1', ROLES_DIR: roles, DRY_RUN: '1', ...env } },
        (err, stdout, stderr) => resolve({ code: typeof err?.code === 'number' ? err.code : err ? -1 : 0, stdout, stderr }),
      );
    });

  for (const tool of ['dig', 'host']) {
    it(`chooses middleware for vm10 and services for vm11 (${tool})`, async () => {
      const a = await run('vm10.lab.test', { THREERC_DNS_TOOL: tool });
      assert.equal(a.code, 0, a.stderr);
      assert.equal(a.stdout.trim(), `would run: ${roles}/middleware/install.sh`);
      const b = await run('vm11.lab.test', { THREERC_DNS_TOOL: tool });
      assert.equal(b.code, 0, b.stderr);
      assert.equal(b.stdout.trim(), `would run: ${roles}/services/install.sh`);
    });
  }

  it('an unknown name fails (no HINFO); a role that is not a plain name is refused', async () => {
    const nx = await run('ghost.lab.test');
    assert.equal(nx.code, 1);
    assert.match(nx.stderr, /no HINFO record for ghost\.lab\.test/);
    const evil = await run('evil.lab.test');
    assert.equal(evil.code, 2);
    assert.equal(evil.stdout, '');
    assert.match(evil.stderr, /refusing role/);
  });

  it('both example roles are valid sh and source their shared helpers', async () => {
    for (const role of ['middleware', 'services']) {
      const r = await new Promise<number>((resolve) => execFile('sh', ['-n', join(roles, role, 'install.sh')], (err) => resolve(err ? 1 : 0)));
      assert.equal(r, 0, role);
    }
  });
});
