import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../lib/errors.js';
import { parseConfig } from '../config/load.js';
import { LAB } from '../dhcp/testkit.js';
import { advertisementFor, servedInterfaces } from './server.js';
import { dumpRouterAdvertisement, encodeRouterAdvertisement, decodeRouterAdvertisement } from './ndp.js';

const withRa = (ra: string) => parseConfig(LAB.replace('http: { port: 8080 } }', `http: { port: 8080 }, ra: ${ra} }`), '/tmp/ra-test.yaml');
const dump = (cfg: ReturnType<typeof withRa>, iface = { name: 'eth0' }) => dumpRouterAdvertisement(decodeRouterAdvertisement(encodeRouterAdvertisement(advertisementFor(cfg.servers.ra, iface))));

const nic = (address: string, family: 'IPv4' | 'IPv6' = 'IPv4', internal = false) => ({ address, family, internal, netmask: '255.255.255.0', mac: '52:54:00:77:00:01', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as never;

describe('servers.ra', () => {
  it('default: on, and "no IPv6 router here" (lifetime 0, no prefix, no flags)', () => {
    const cfg = parseConfig(LAB, '/tmp/ra-test.yaml');
    assert.equal(cfg.servers.ra.enabled, true);
    assert.equal(dump(cfg), 'hop-limit 64 flags -- router-lifetime 0s reachable 0ms retrans 0ms');
  });

  it('prefix, flags, lifetime, MTU and RDNSS; an interface entry overrides', () => {
    const cfg = withRa(`{ routerLifetime: 30m, managed: true, otherConfig: true, mtu: 1500, dnsServers: [fd77::1], prefixes: [{ prefix: "fd77:0::/64" }], interfaces: [{ name: eth0 }, { name: eth1, routerLifetime: 0, prefixes: [] }] }`);
    assert.equal(dump(cfg, cfg.servers.ra.interfaces![0]!), ['hop-limit 64 flags MO router-lifetime 1800s reachable 0ms retrans 0ms', 'mtu 1500', 'prefix fd77::/64 LA valid 86400s preferred 14400s', 'rdnss fd77::1 lifetime 1800s'].join('\n'));
    assert.match(dump(cfg, cfg.servers.ra.interfaces![1]!), /^hop-limit 64 flags MO router-lifetime 0s .*\nmtu 1500\nrdnss fd77::1 lifetime 1800s$/);
  });

  it('refuses what RFC 4861 does not allow, naming the field', () => {
    for (const [ra, path] of [
      ['{ routerLifetime: 60 }', 'servers.ra.routerLifetime'], // below maxInterval (10m)
      ['{ routerLifetime: 3h }', 'servers.ra.routerLifetime'], // above 9000 s
      ['{ interfaces: [{ name: eth0, routerLifetime: 60 }] }', 'servers.ra.interfaces[0].routerLifetime'],
      ['{ maxInterval: 2s }', 'servers.ra.maxInterval'],
      ['{ maxInterval: 10s, minInterval: 9s }', 'servers.ra.minInterval'],
      ['{ prefixes: [{ prefix: "fd77::1/64" }] }', 'servers.ra.prefixes[0].prefix'],
      ['{ prefixes: [{ prefix: "fd77::/64", validLifetime: 1h, preferredLifetime: 2h }] }', 'servers.ra.prefixes[0]'],
      ['{ dnsServers: [10.77.0.1] }', 'servers.ra.dnsServers[0]'],
      ['{ mtu: 1000 }', 'servers.ra.mtu'],
      ['{ interfaces: [{ name: "eth0; rm" }] }', 'servers.ra.interfaces[0].name'],
    ] as const) {
      assert.throws(() => withRa(ra), (err: unknown) => err instanceof ConfigError && err.message.includes(path), `${ra} -> ${path}`);
    }
    assert.equal(withRa('{ routerLifetime: 0 }').servers.ra.routerLifetime, 0);
  });

  it('served interfaces: those holding an IPv4 address in network.subnets, unless listed', () => {
    const cfg = parseConfig(LAB, '/tmp/ra-test.yaml');
    const ifs = { lo: [nic('127.0.0.1', 'IPv4', true)], eth0: [nic('10.77.0.1'), nic('fe80::1', 'IPv6')], eth1: [nic('192.168.1.5')], eth2: [nic('fe80::2', 'IPv6')] };
    assert.deepEqual(servedInterfaces(cfg, ifs), [{ name: 'eth0' }]);
    assert.deepEqual(servedInterfaces(withRa('{ interfaces: [{ name: eth2 }] }'), ifs), [{ name: 'eth2' }]);
  });
});
