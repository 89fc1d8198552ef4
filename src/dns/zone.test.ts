import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { Inventory, type Host, type Hypervisor } from '../inventory/inventory.js';
import { respond } from './respond.js';
import { nameKey, Rcode, Type } from './wire.js';
import { buildZone, hinfoOf, ptrName, ptrName6, reverseZone6, reverseZones, type Zone, type ZoneSource } from './zone.js';

const source: ZoneSource = { domain: 'lab.test', serverIp: '10.77.0.1', subnets: ['10.77.0.0/24'], ttl: 300 };
const profiles = [{ name: 'debian12', installer: 'preseed', kernel: 'k', initrd: 'i', kernelArgs: '', vars: {} }] as const;

function host(name: string, ip: string, extra: Partial<Host> = {}): Host {
  return { name, mac: `52:54:00:77:00:${ip.split('.')[3]!.padStart(2, '0')}`, ip, profile: 'debian12', reinstall: true, priority: 0, cpus: 1, memoryMb: 1024, boot: 'local', vars: {}, ...extra };
}

const lab = [
  host('vm10', '10.77.0.10', { role: 'middleware' }),
  host('vm11', '10.77.0.11', { role: 'services', ipv6: 'fd77::11' }),
  host('vm12', '10.77.0.12'),
  host('vm13', '10.77.0.13', { role: 'services', hinfo: { cpu: 'x86_64', os: 'Rocky 9' } }),
];
const inv = (hosts: Host[]) => new Inventory(hosts, [...profiles], []);
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

/** Asks the zone through respond() and decodes the reply with dns-packet. */
function ask(zone: Zone, name: string, type: dnsPacket.RecordType | 'ANY') {
  const q = dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }] });
  const out = respond(Buffer.from(q), zone, { transport: 'udp', mayForward: false });
  assert.equal(out.kind, 'reply');
  if (out.kind !== 'reply') throw new Error('unreachable');
  return dnsPacket.decode(out.bytes) as dnsPacket.DecodedPacket & { rcode: string };
}

describe('zone: records', () => {
  const zone = buildZone(source, inv(lab), { now: NOW });

  it('A for every host', () => {
    const r = ask(zone, 'vm10.lab.test', 'A');
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.flag_aa, true);
    assert.deepEqual(r.answers!.map((a) => [a.name, a.type, 'data' in a ? a.data : null, 'ttl' in a ? a.ttl : null]), [['vm10.lab.test', 'A', '10.77.0.10', 300]]);
  });

  it('AAAA only for hosts with ipv6; NODATA for the others', () => {
    const r = ask(zone, 'vm11.lab.test', 'AAAA');
    assert.deepEqual(r.answers!.map((a) => 'data' in a && a.data), ['fd77::11']);
    const n = ask(zone, 'vm10.lab.test', 'AAAA');
    assert.equal(n.rcode, 'NOERROR');
    assert.equal(n.answers!.length, 0);
    assert.equal(n.authorities![0]!.type, 'SOA');
  });

  it('PTR in the reverse zone', () => {
    const r = ask(zone, '12.0.77.10.in-addr.arpa', 'PTR');
    assert.equal(r.flag_aa, true);
    assert.deepEqual(r.answers!.map((a) => 'data' in a && a.data), ['vm12.lab.test']);
  });

  it('HINFO: role and profile by default, "none" without a role, host.hinfo when set', () => {
    const hinfo = (name: string) => (ask(zone, name, 'HINFO').answers![0] as dnsPacket.HInfoAnswer).data;
    assert.deepEqual(hinfo('vm10.lab.test'), { cpu: 'middleware', os: 'debian12' });
    assert.deepEqual(hinfo('vm12.lab.test'), { cpu: 'none', os: 'debian12' });
    assert.deepEqual(hinfo('vm13.lab.test'), { cpu: 'x86_64', os: 'Rocky 9' });
  });

  it('HINFO strings longer than 255 bytes are cut (RFC 1035 character-string)', () => {
    const h = hinfoOf({ profile: 'p', hinfo: { cpu: 'é'.repeat(200), os: 'o' } });
    assert.ok(Buffer.byteLength(h.cpu) <= 255);
    assert.equal(h.cpu, 'é'.repeat(127));
  });

  it('SOA and NS at each apex; NS answer carries the name server address', () => {
    for (const apex of ['lab.test', '0.77.10.in-addr.arpa']) {
      const soa = ask(zone, apex, 'SOA').answers![0] as dnsPacket.SoaAnswer;
      assert.equal(soa.name, apex);
      assert.equal(soa.data.mname, 'ns.lab.test');
      assert.equal(soa.data.rname, 'hostmaster.lab.test');
      assert.equal(soa.data.serial, Math.floor(NOW / 1000));
      assert.equal(soa.data.minimum, 300);
      const ns = ask(zone, apex, 'NS');
      assert.deepEqual(ns.answers!.map((a) => 'data' in a && a.data), ['ns.lab.test']);
      assert.deepEqual(ns.additionals!.map((a) => [a.name, 'data' in a && a.data]), [['ns.lab.test', '10.77.0.1']]);
    }
    assert.deepEqual(ask(zone, 'ns.lab.test', 'A').answers!.map((a) => 'data' in a && a.data), ['10.77.0.1']);
    assert.deepEqual(ask(zone, '1.0.77.10.in-addr.arpa', 'PTR').answers!.map((a) => 'data' in a && a.data), ['ns.lab.test']);
  });

  it('the NS is the host at serverIp when there is one, else a name no host uses', () => {
    const z1 = buildZone({ ...source, serverIp: '10.77.0.10' }, inv(lab), { now: NOW });
    assert.equal(z1.nsName, 'vm10.lab.test');
    assert.equal(ask(z1, 'lab.test', 'NS').additionals!.length, 1);
    const z2 = buildZone(source, inv([...lab, host('ns', '10.77.0.53')]), { now: NOW });
    assert.equal(z2.nsName, 'ns-3rc.lab.test');
    assert.deepEqual(ask(z2, 'ns.lab.test', 'A').answers!.map((a) => 'data' in a && a.data), ['10.77.0.53']);
  });

  it('ANY returns every RRset of the name', () => {
    const r = ask(zone, 'vm11.lab.test', 'ANY');
    assert.deepEqual(r.answers!.map((a) => a.type).sort(), ['A', 'AAAA', 'HINFO']);
  });

  it('lookups ignore case and the reply echoes the question as asked', () => {
    const r = ask(zone, 'VM10.Lab.TEST', 'A');
    assert.equal(r.questions![0]!.name, 'VM10.Lab.TEST');
    assert.equal(r.id, 4242);
    assert.equal(r.flag_rd, true);
    assert.deepEqual(r.answers!.map((a) => 'data' in a && a.data), ['10.77.0.10']);
  });
});

describe('zone: errors', () => {
  const zone = buildZone(source, inv(lab), { now: NOW });

  it('NXDOMAIN with the zone SOA for missing names, forward and reverse', () => {
    for (const [name, apex] of [['nope.lab.test', 'lab.test'], ['x.vm10.lab.test', 'lab.test'], ['99.0.77.10.in-addr.arpa', '0.77.10.in-addr.arpa']] as const) {
      const r = ask(zone, name, 'A');
      assert.equal(r.rcode, 'NXDOMAIN', name);
      assert.equal(r.flag_aa, true);
      assert.equal(r.answers!.length, 0);
      assert.deepEqual(r.authorities!.map((a) => [a.name, a.type]), [[apex, 'SOA']]);
    }
  });

  it('NODATA (NOERROR, SOA in authority) for existing names without the type', () => {
    for (const [name, type] of [['vm10.lab.test', 'MX'], ['lab.test', 'A'], ['10.0.77.10.in-addr.arpa', 'A']] as const) {
      const r = ask(zone, name, type);
      assert.equal(r.rcode, 'NOERROR');
      assert.equal(r.answers!.length, 0);
      assert.equal(r.authorities![0]!.type, 'SOA');
    }
  });

  it('empty non-terminals are NODATA, not NXDOMAIN (RFC 8020)', () => {
    const z = buildZone({ ...source, subnets: ['10.77.0.0/16'] }, inv(lab), { now: NOW });
    assert.deepEqual(z.apexes, ['lab.test', '77.10.in-addr.arpa']);
    assert.equal(ask(z, '0.77.10.in-addr.arpa', 'PTR').rcode, 'NOERROR');
    assert.equal(ask(z, '1.77.10.in-addr.arpa', 'PTR').rcode, 'NXDOMAIN');
    assert.equal(ask(z, '10.0.77.10.in-addr.arpa', 'PTR').answers!.length, 1);
  });

  it('REFUSED outside every zone, without AA', () => {
    for (const name of ['example.org', 'test', '1.1.168.192.in-addr.arpa', 'lab.test.evil']) {
      const r = ask(zone, name, 'A');
      assert.equal(r.rcode, 'REFUSED', name);
      assert.equal(r.flag_aa, false);
    }
  });

  it('no zone transfers', () => {
    assert.equal(ask(zone, 'lab.test', 'AXFR').rcode, 'REFUSED');
  });

  it('a non-IN class is refused', () => {
    const q = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] });
    const out = respond(Buffer.from(q), zone, { transport: 'udp', mayForward: false });
    assert.equal(out.kind === 'reply' && out.rcode, Rcode.REFUSED);
  });
});

describe('zone: reverse zones and serial', () => {
  it('reverse zone on the enclosing octet boundary', () => {
    assert.deepEqual(reverseZones('10.77.0.0/24'), ['0.77.10.in-addr.arpa']);
    assert.deepEqual(reverseZones('10.77.0.0/16'), ['77.10.in-addr.arpa']);
    assert.deepEqual(reverseZones('10.77.0.0/20'), ['77.10.in-addr.arpa']);
    assert.deepEqual(reverseZones('10.77.0.128/25'), ['0.77.10.in-addr.arpa']);
    assert.deepEqual(reverseZones('10.0.0.0/8'), ['10.in-addr.arpa']);
    assert.deepEqual(reverseZones('127.0.0.1/32'), ['1.0.0.127.in-addr.arpa']);
    assert.deepEqual(reverseZones('10.0.0.0/7'), ['10.in-addr.arpa', '11.in-addr.arpa']);
    assert.equal(ptrName('10.77.0.10'), '10.0.77.10.in-addr.arpa');
  });

  it('two subnets in one /24 share one reverse zone', () => {
    const z = buildZone({ ...source, subnets: ['10.77.0.0/25', '10.77.0.128/25'] }, inv(lab), { now: NOW });
    assert.deepEqual(z.apexes, ['lab.test', '0.77.10.in-addr.arpa']);
  });

  it('serial kept when nothing changed, increased when a host is added (even if the clock went back)', () => {
    const z1 = buildZone(source, inv(lab), { now: NOW });
    const same = buildZone(source, inv(lab), { now: NOW + 60_000, previous: z1 });
    assert.equal(same.serial, z1.serial);
    const added = buildZone(source, inv([...lab, host('vm14', '10.77.0.14')]), { now: NOW + 60_000, previous: z1 });
    assert.equal(added.serial, z1.serial + 60);
    assert.notEqual(added.digest, z1.digest);
    const back = buildZone(source, inv(lab), { now: NOW - 3_600_000, previous: added });
    assert.equal(back.serial, added.serial + 1);
    assert.equal(back.lookup(nameKey('vm14.lab.test'), Type.A)!.rcode, Rcode.NXDOMAIN);
    assert.equal(added.lookup(nameKey('vm14.lab.test'), Type.A)!.ancount, 1);
  });

  it('a changed role changes the serial and the HINFO', () => {
    const z1 = buildZone(source, inv(lab), { now: NOW });
    const z2 = buildZone(source, inv([{ ...lab[0]!, role: 'services' }, ...lab.slice(1)]), { now: NOW + 1000, previous: z1 });
    assert.equal(z2.serial, z1.serial + 1);
    assert.equal((ask(z2, 'vm10.lab.test', 'HINFO').answers![0] as dnsPacket.HInfoAnswer).data.cpu, 'services');
  });
});

describe('zone: IPv6 reverse (ip6.arpa)', () => {
  const six: ZoneSource = { ...source, prefixes6: ['fd77::/64'], serverIp6: 'fd77::1' };
  const zone = buildZone(six, inv(lab), { now: NOW });

  it('one zone per prefix on the enclosing nibble boundary; 32-nibble PTR owners', () => {
    assert.equal(reverseZone6('fd77::/64'), '0.0.0.0.0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa');
    // A /62 is not on a nibble boundary: its zone is the enclosing /60's (15 nibbles).
    assert.equal(reverseZone6('fd77:0:0:10::/62'), '1.0.0.0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa');
    assert.equal(ptrName6('fd77::11'), '1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa');
    assert.equal(ptrName6('not-an-address'), null);
    assert.ok(zone.apexes.includes('0.0.0.0.0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa'));
  });

  it('PTR for a host with an address in the prefix; NXDOMAIN for another address there', () => {
    const r = ask(zone, ptrName6('fd77::11')!, 'PTR');
    assert.equal(r.flag_aa, true);
    assert.deepEqual(r.answers!.map((a) => 'data' in a && a.data), ['vm11.lab.test']);
    const miss = ask(zone, ptrName6('fd77::99')!, 'PTR');
    assert.equal(miss.rcode, 'NXDOMAIN');
    assert.equal(miss.authorities![0]!.name, '0.0.0.0.0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa');
  });

  it('the name server has an AAAA (answer and NS glue) and a PTR for network.ipv6.serverIp', () => {
    assert.deepEqual(ask(zone, 'ns.lab.test', 'AAAA').answers!.map((a) => 'data' in a && a.data), ['fd77::1']);
    assert.deepEqual(ask(zone, ptrName6('fd77::1')!, 'PTR').answers!.map((a) => 'data' in a && a.data), ['ns.lab.test']);
    const ns = ask(zone, 'lab.test', 'NS');
    assert.deepEqual(ns.additionals!.map((a) => a.type).sort(), ['A', 'AAAA']);
  });

  it('an address outside every served prefix gets no PTR (the name is outside every zone)', () => {
    const z = buildZone(six, inv([host('vm20', '10.77.0.20', { ipv6: 'fd78::20' })]), { now: NOW });
    assert.equal(z.lookup(nameKey(ptrName6('fd78::20')!), Type.PTR), null);
  });
});

describe('zone: hypervisors', () => {
  const hv = (name: string, address: string, extra: Partial<Hypervisor> = {}): Hypervisor => ({ name, address, driver: 'libvirt', ssh: { user: 'root', port: 22 }, loadThreshold: 4, maintenance: false, migrateFlags: [], capacity: {}, boot: 'local', vars: {}, ...extra });
  const zone = buildZone(source, new Inventory(lab, [...profiles], [hv('hv1', '10.77.0.2'), hv('hv2', '10.77.0.3', { mac: '52:54:00:77:00:03', profile: 'debian12', role: 'hypervisor' }), hv('vm12', '10.77.0.99')]), { now: NOW });
  const data = (name: string, type: dnsPacket.RecordType) => ask(zone, name, type).answers!.map((a) => ('data' in a ? a.data : null));

  it('a hypervisor without a MAC: A, PTR and HINFO (none, hypervisor) from its address', () => {
    assert.deepEqual(data('hv1.lab.test', 'A'), ['10.77.0.2']);
    assert.deepEqual(data(ptrName('10.77.0.2'), 'PTR'), ['hv1.lab.test']);
    assert.deepEqual(data('hv1.lab.test', 'HINFO'), [{ cpu: 'none', os: 'hypervisor' }]);
  });

  it('a hypervisor with a MAC and a profile: its host records, role and profile in HINFO', () => {
    assert.deepEqual(data('hv2.lab.test', 'A'), ['10.77.0.3']);
    assert.deepEqual(data(ptrName('10.77.0.3'), 'PTR'), ['hv2.lab.test']);
    assert.deepEqual(data('hv2.lab.test', 'HINFO'), [{ cpu: 'hypervisor', os: 'debian12' }]);
  });

  it('a host of the same name wins over a hypervisor without a MAC', () => {
    assert.deepEqual(data('vm12.lab.test', 'A'), ['10.77.0.12']);
  });
});
