/** hosts[].ipv6 and network.ipv6 (issue 23): validated like IPv4, errors naming file, field and expectation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../lib/errors.js';
import { parseConfig } from './load.js';

function config(ipv6: string, hosts: string): string {
  return `
network:
  domain: lab.test
  serverIp: 10.77.0.1
  subnets: [{ cidr: 10.77.0.0/24 }]
${ipv6}
profiles: [{ name: debian12, installer: image, kernel: k, initrd: i }]
hosts:
${hosts}
store: { path: /nonexistent/3rc.db }
`;
}
const NET6 = '  ipv6: { serverIp: "fd77::1", prefixes: [{ prefix: "fd77::/64", pool: { start: "fd77::100", end: "fd77::1ff" } }] }';
const host = (n: number, ipv6: string) => `  - { name: vm${n}, mac: "52:54:00:77:00:${n}", ip: 10.77.0.${n}, ipv6: "${ipv6}", profile: debian12 }`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'bad.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n');
  }
  assert.fail('the config was accepted');
}

describe('config: IPv6', () => {
  it('accepts a prefix with a pool and host addresses, kept in canonical form', () => {
    const c = parseConfig(config(NET6, host(10, 'FD77:0:0:0:0:0:0:10')), 'ok.yaml');
    assert.equal(c.hosts[0]!.ipv6, 'fd77::10');
    assert.equal(c.network.ipv6!.prefixes[0]!.prefix, 'fd77::/64');
    assert.equal(c.servers.dhcp6.port, 547);
  });

  it('refuses a duplicate IPv6 address (whatever its spelling) and one outside every prefix', () => {
    const p = problems(config(NET6, [host(10, 'fd77::10'), host(11, 'fd77:0::10'), host(12, 'fd99::12')].join('\n')));
    assert.ok(p.some((l) => l.includes('hosts[1].ipv6') && l.includes('duplicate IPv6 address fd77::10: already used by hosts[0]')), p.join('\n'));
    assert.ok(p.some((l) => l.includes('hosts[2].ipv6') && l.includes('fd99::12 is outside every IPv6 prefix (network.ipv6.prefixes: fd77::/64)')), p.join('\n'));
    assert.ok(p.every((l) => !l.includes('hosts[0].ipv6')), 'the first holder is not reported');
  });

  it('refuses a host IPv6 address when no prefix is configured', () => {
    const p = problems(config('', host(10, 'fd77::10')));
    assert.ok(p.some((l) => l.includes('hosts[0].ipv6') && l.includes('none: network.ipv6 is not set')), p.join('\n'));
  });

  it('names bad prefixes, pools and addresses', () => {
    const p = problems(config('  ipv6: { serverIp: "fd78::1", prefixes: [{ prefix: "fd77::/64", pool: { start: "fd77::200", end: "fd77:1::1" } }, { prefix: "fd77::/48" }, { prefix: "fd77::1/64" }] }', host(10, 'fe80::1%eth0')));
    const has = (path: string, text: string) => assert.ok(p.some((l) => l.includes(path) && l.includes(text)), `${path}: ${text}\n${p.join('\n')}`);
    has('network.ipv6.prefixes[2].prefix', 'expected an IPv6 prefix like fd77::/64');
    has('hosts[0].ipv6', 'expected an IPv6 address like fd77::10 (no zone id)');
    assert.ok(p.every((l) => l.startsWith('bad.yaml')), p.join('\n'));
    const q = problems(config('  ipv6: { serverIp: "fd78::1", prefixes: [{ prefix: "fd77::/64", pool: { start: "fd77::200", end: "fd77:1::1" } }, { prefix: "fd77::/48" }] }', host(10, 'fd77::10')));
    const qh = (path: string, text: string) => assert.ok(q.some((l) => l.includes(path) && l.includes(text)), `${path}: ${text}\n${q.join('\n')}`);
    qh('network.ipv6.prefixes[0].pool.end', 'pool end fd77:1::1 is outside its prefix fd77::/64');
    qh('network.ipv6.prefixes[1].prefix', 'prefix fd77::/48 overlaps network.ipv6.prefixes[0] (fd77::/64)');
    qh('network.ipv6.serverIp', 'fd78::1 is outside every IPv6 prefix');
  });
});
