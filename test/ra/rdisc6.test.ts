/**
 * 3rc's router advertisements seen by real clients, in network namespaces: 3rc serves in one
 * (10.77.0.1/24 on a veth, so that interface is "served"), the other is a client whose kernel
 * does SLAAC (accept_ra=1), and rdisc6 (Debian ndisc6) solicits routers there.
 *
 * - prefix mode: rdisc6 reads the prefix fd77::/64, the M and O flags, the lifetime, MTU and
 *   RDNSS; the kernel forms an address in fd77::/64 and a default route through 3rc;
 * - "no IPv6 router here" (the default): rdisc6 reads router lifetime 0 and no prefix; the
 *   kernel adds no default route and no address; hostile solicitations are logged and dropped;
 *   a killed helper is started again and answers again;
 * - periodic: with no solicitation at all, advertisements keep coming, to ff02::1, hop limit 255.
 *
 * rdisc6 runs with one attempt (-r 1): the answer to a solicitation comes at once, not at the
 * next periodic advertisement. Needs root (namespaces); rdisc6 missing is a failure (CI installs
 * ndisc6 from scripts/install.sh --test).
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Lab, netnsUnavailable } from '../lib/netns.js';
import { ROOT, writeLabConfig, type LabConfig } from '../lib/serve.js';
import { serveInNetns, type NsServed } from '../dhcp/ns-serve.js';

const skip = netnsUnavailable();
if (skip) console.log(`router advertisement tests skipped: ${skip}`);

const RDISC6 = '/usr/bin/rdisc6';

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Setup {
  lab: Lab;
  cfg: LabConfig;
  srv: string;
  cli: string;
  srvIf: string;
  cliIf: string;
  served: NsServed;
  count(text: string): number;
}

/** 3rc in srv, a client namespace cli; resolves once 3rc's ICMPv6 helper is ready and both link-locals are usable. */
async function setup(tag: string, ra: Record<string, unknown>, opts: { solicit?: boolean; beforeServe?: (lab: Lab, cli: string, cliIf: string) => void } = {}): Promise<Setup> {
  assert.ok(existsSync(RDISC6), `${RDISC6} is missing: apt-get install ndisc6 (scripts/install.sh --test installs it)`);
  const lab = new Lab(tag);
  const srv = lab.netns('srv');
  const cli = lab.netns('cli');
  // The client's veth inherits these: SLAAC on, and (periodic test) no solicitation of its own.
  for (const [k, v] of [['accept_ra', '1'], ['autoconf', '1'], ['router_solicitations', opts.solicit === false ? '0' : '3']]) lab.exec(cli, 'sysctl', ['-qw', `net.ipv6.conf.default.${k}=${v}`]);
  const { ifA: srvIf, ifB: cliIf } = lab.link(srv, '10.77.0.1/24', cli, undefined);
  lab.exec(cli, 'sysctl', ['-qw', `net.ipv6.conf.${cliIf}.accept_ra=1`]);
  opts.beforeServe?.(lab, cli, cliIf);
  const cfg = await writeLabConfig({ servers: { ra } });
  const served = await serveInNetns(lab, srv, cfg);
  const count = (text: string) => served.lines.filter((l) => l.includes(text)).length;
  await until('the ICMPv6 helper', () => count('ICMPv6 helper ready') >= 1);
  for (const [ns, ifn] of [[srv, srvIf], [cli, cliIf]] as const) {
    await until(`a usable link-local address on ${ns}`, () => {
      const out = lab.exec(ns, 'ip', ['-6', 'addr', 'show', 'dev', ifn]);
      return out.includes('fe80::') && !out.includes('tentative');
    });
  }
  return { lab, cfg, srv, cli, srvIf, cliIf, served, count };
}

async function teardown(s: Setup | undefined): Promise<void> {
  if (!s) return;
  await s.served.stop();
  await s.lab.destroy();
  s.cfg.cleanup();
}

const rdisc6 = (s: Setup) => s.lab.exec(s.cli, RDISC6, ['-1', '-n', '-r', '1', '-w', '3000', s.cliIf], { timeoutMs: 10_000 });

describe('ra: 3rc router advertisements and real clients (namespaces)', { skip, timeout: 120_000 }, () => {
  it('prefix mode: rdisc6 sees fd77::/64 and the flags at its first solicitation; the kernel forms an address in it', async () => {
    let s: Setup | undefined;
    try {
      s = await setup('ra', { prefixes: [{ prefix: 'fd77::/64' }], managed: true, otherConfig: true, routerLifetime: '30m', mtu: 1500, dnsServers: ['fd77::1'] });
      const out = rdisc6(s);
      assert.match(out, /Stateful address conf\.\s*:\s*Yes/, out);
      assert.match(out, /Stateful other conf\.\s*:\s*Yes/, out);
      assert.match(out, /Router lifetime\s*:\s*1800 \(/, out);
      assert.match(out, /Prefix\s*:\s*fd77::\/64/, out);
      assert.match(out, /MTU\s*:\s*1500 /, out);
      assert.match(out, /Recursive DNS server\s*:\s*fd77::1/, out);
      assert.match(out, /from fe80::/, out);
      // Answered by unicast, at once: 3rc logged the answer to rdisc6's own link-local address.
      const linkLocal = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(s.lab.exec(s.cli, 'ip', ['-6', 'addr', 'show', 'dev', s.cliIf]))![1]!;
      const lines = s.served.lines;
      await until(`3rc's log line of its answer to ${linkLocal}`, () => lines.some((l) => l.includes('answered a router solicitation"') && l.includes(`"peer":"${linkLocal}"`)), 5_000);
      const cli = s;
      await until('a SLAAC address in fd77::/64', () => /inet6 fd77::[0-9a-f:]+\/64 scope global/.test(cli.lab.exec(cli.cli, 'ip', ['-6', 'addr', 'show', 'dev', cli.cliIf])));
      await until('a default route through 3rc', () => /^default via fe80::/m.test(cli.lab.exec(cli.cli, 'ip', ['-6', 'route', 'show', 'default'])));
    } finally {
      await teardown(s);
    }
  });

  it('no-router mode (the default): lifetime 0, no prefix, no default route; hostile solicitations dropped; a killed helper comes back', async () => {
    let s: Setup | undefined;
    try {
      s = await setup('rb', {});
      const out = rdisc6(s);
      assert.match(out, /Router lifetime\s*:\s*0 \(/, out);
      assert.match(out, /Stateful address conf\.\s*:\s*No/, out);
      assert.doesNotMatch(out, /Prefix\s*:/, out);
      // The kernel read the same advertisement (rdisc6 got it on its own raw socket).
      assert.equal(s.lab.exec(s.cli, 'ip', ['-6', 'route', 'show', 'default']).trim(), '');
      assert.doesNotMatch(s.lab.exec(s.cli, 'ip', ['-6', 'addr', 'show', 'dev', s.cliIf]), /scope global/);

      // Hostile solicitations: from behind a router (hop limit 64), an option of length 0.
      const sendRs = (hop: number, hex: string) => s!.lab.exec(s!.cli, 'python3', [join(ROOT, 'test', 'ra', 'send-rs.py'), s!.cliIf, String(hop), hex]);
      sendRs(64, '8500000000000000');
      sendRs(255, '85000000000000000100000000000000');
      const t = s;
      await until('both drops logged', () => t.count('"reason":"bad-hop-limit"') === 1 && t.count('"reason":"malformed"') === 1);
      assert.match(rdisc6(s), /Router lifetime\s*:\s*0 \(/, 'still answering');

      // The helper dies: 3rc logs it, starts another, and answers again; 3rc itself goes on.
      const pid = execFileSync('ps', ['-o', 'pid=', '--ppid', String(s.served.proc.pid)], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
      assert.equal(pid.length, 1, `one child of 3rc (the helper): ${pid.join(' ')}`);
      process.kill(Number(pid[0]), 'SIGKILL');
      await until('the helper restarted', () => t.count('ICMPv6 helper stopped') === 1 && t.count('ICMPv6 helper ready') === 2);
      assert.equal(s.served.proc.exitCode, null, '3rc still runs');
      assert.match(rdisc6(s), /Router lifetime\s*:\s*0 \(/, 'answering after the restart');
    } finally {
      await teardown(s);
    }
  });

  it('periodic: with no solicitation, advertisements keep coming to ff02::1 with hop limit 255', async () => {
    let s: Setup | undefined;
    let sniffer: ChildProcess | undefined;
    const lines: string[] = [];
    try {
      s = await setup('rc', { maxInterval: '4s' }, {
        solicit: false,
        beforeServe: (lab, cli, cliIf) => {
          sniffer = lab.spawn(cli, 'python3', [join(ROOT, 'test', 'ra', 'sniff-ra.py'), cliIf, '5']);
          let buf = '';
          sniffer.stdout!.on('data', (d: Buffer) => {
            buf += d.toString();
            const parts = buf.split('\n');
            buf = parts.pop()!;
            lines.push(...parts);
          });
        },
      });
      const sn = sniffer!;
      await until('five advertisements (three initial ones, then periodic)', () => sn.exitCode !== null, 60_000);
      assert.equal(sn.exitCode, 0);
      const ras = lines.filter((l) => l.includes('"src"')).map((l) => JSON.parse(l) as { src: string; dst: string; hop: number; lifetime: number });
      assert.equal(ras.length, 5);
      for (const ra of ras) {
        assert.equal(ra.dst, 'ff02::1');
        assert.equal(ra.hop, 255);
        assert.match(ra.src, /^fe80::/);
        assert.equal(ra.lifetime, 0);
      }
      assert.equal(s.count('router solicitation'), 0, 'no solicitation was answered or dropped: all five were unsolicited');
    } finally {
      await teardown(s);
    }
  });
});
