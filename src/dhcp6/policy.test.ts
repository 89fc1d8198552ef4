import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseConfig } from '../config/load.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { LeaseTable } from '../dhcp/lease-table.js';
import { Inventory } from '../inventory/inventory.js';
import { MemoryStore } from '../store/memory.js';
import { all, decodeAddresses, decodeDomainList, decodeIaNa, decodeOpaqueList, decodeStatus, decodeVendorClass, encodeIaNa, encodeVendorClass, first, Opt6, Status6, u16Bytes, type Option6 } from './options.js';
import { decode, encode, Msg6, type Dhcp6Message, type Dhcp6Packet, type Dhcp6Relay } from './packet.js';
import { decide6, policy6Settings, type Decision6 } from './policy.js';

const LAB6 = `
network:
  domain: lab.test
  serverIp: 10.77.0.1
  subnets: [{ cidr: 10.77.0.0/24 }]
  ipv6:
    serverIp: fd77::1
    leaseTime: 1h
    prefixes:
      - { prefix: fd77::/64 }
      - { prefix: "fd77:0:0:1::/64", pool: { start: "fd77:0:0:1::100", end: "fd77:0:0:1::103" } }
servers: { http: { port: 8080 } }
profiles:
  - { name: debian12, installer: image, kernel: k, initrd: i }
hosts:
  - { name: vm10, mac: "52:54:00:77:00:10", ip: 10.77.0.10, ipv6: "fd77::10", profile: debian12 }
  - { name: vm11, mac: "52:54:00:77:00:11", ip: 10.77.0.11, profile: debian12 }
store: { path: /nonexistent/3rc.db }
`;

const VM10 = '52:54:00:77:00:10';
const duidLL = (mac: string) => Uint8Array.from([0, 3, 0, 1, ...mac.split(':').map((x) => parseInt(x, 16))]);

async function harness() {
  const config = parseConfig(LAB6, '/tmp/lab6.yaml');
  const inventory = Inventory.fromConfig(config);
  const leases = await LeaseTable.load(new MemoryStore(), 'ipv6');
  const settings = policy6Settings(config)!;
  const boot = new Map<string, BootEntry>(config.hosts.map((h) => [h.mac, { mac: h.mac, mode: 'local', profile: h.profile, token: null, since: 0 }]));
  const h = {
    now: Date.UTC(2026, 0, 1),
    leases,
    settings,
    boot,
    decide(p: Dhcp6Packet, source?: string): Decision6 {
      const d = decide6(p, {
        now: h.now, settings, leases, ...(source ? { source } : {}),
        hostByMac: (m) => inventory.hostByMac(m),
        hostByIpv6: (ip) => inventory.hosts().find((x) => x.ipv6 === ip),
        profile: (n) => inventory.profile(n),
        bootEntry: (m) => boot.get(m),
      });
      // Made visible at once as the server does (the store write of a commit is the server's test).
      for (const l of d.leases) leases.hold(l.lease);
      return d;
    },
  };
  return h;
}

function msg(type: number, opts: { duid?: Uint8Array; serverId?: Uint8Array; ias?: { iaid: number; addresses?: string[] }[]; extra?: Option6[] } = {}): Dhcp6Message {
  const options: Option6[] = [];
  if (opts.duid) options.push({ code: Opt6.CLIENTID, data: opts.duid });
  if (opts.serverId) options.push({ code: Opt6.SERVERID, data: opts.serverId });
  for (const ia of opts.ias ?? []) options.push(encodeIaNa({ iaid: ia.iaid, t1: 0, t2: 0, addresses: (ia.addresses ?? []).map((address) => ({ address, preferred: 0, valid: 0 })) }));
  options.push(...(opts.extra ?? []));
  return { relay: false, type, xid: 0x123456, options };
}

function inner(p: Dhcp6Packet | null): Dhcp6Message {
  assert.ok(p);
  let cur: Dhcp6Packet = p;
  while (cur.relay) cur = cur.message;
  return cur;
}

const iaAddresses = (m: Dhcp6Message) => all(m.options, Opt6.IA_NA).map(decodeIaNa).flatMap((ia) => ia.addresses.map((a) => `${a.address}/${a.valid}`));
const ORO_BOOT: Option6 = { code: Opt6.ORO, data: Uint8Array.from([...u16Bytes(23), ...u16Bytes(24), ...u16Bytes(59), ...u16Bytes(60)]) };
const ARCH = (a: number): Option6 => ({ code: Opt6.CLIENT_ARCH_TYPE, data: u16Bytes(a) });

describe('dhcp6 policy', () => {
  it('Solicit / Advertise / Request / Reply for a reservation, with DNS, search list and boot URL', async () => {
    const h = await harness();
    const duid = duidLL(VM10);
    const adv = h.decide(msg(Msg6.SOLICIT, { duid, ias: [{ iaid: 1 }], extra: [ORO_BOOT, ARCH(7)] }));
    assert.equal(adv.reason, 'advertise-reservation');
    assert.equal(adv.host, 'vm10');
    const a = inner(adv.reply);
    assert.equal(a.type, Msg6.ADVERTISE);
    assert.equal(a.xid, 0x123456);
    assert.deepEqual(iaAddresses(a), ['fd77::10/3600']);
    assert.equal(Buffer.from(first(a.options, Opt6.BOOTFILE_URL)!).toString(), 'tftp://[fd77::1]/syslinux.efi');
    assert.deepEqual(decodeAddresses(23, first(a.options, Opt6.DNS_SERVERS)!), ['fd77::1']);
    assert.deepEqual(decodeDomainList(24, first(a.options, Opt6.DOMAIN_LIST)!), ['lab.test']);
    assert.equal(adv.data.pxe, true);
    assert.equal(adv.leases[0]?.op, 'hold');
    const serverId = first(a.options, Opt6.SERVERID)!;
    const rep = h.decide(msg(Msg6.REQUEST, { duid, serverId, ias: [{ iaid: 1, addresses: ['fd77::10'] }], extra: [ORO_BOOT] }));
    assert.equal(rep.reason, 'reply-request');
    assert.equal(inner(rep.reply).type, Msg6.REPLY);
    assert.deepEqual(iaAddresses(inner(rep.reply)), ['fd77::10/3600']);
    assert.equal(rep.leases[0]?.op, 'commit');
    assert.equal(rep.leases[0]?.op === 'commit' && rep.leases[0].lease.state, 'bound');
    // A Request naming another server: not ours to answer.
    const other = h.decide(msg(Msg6.REQUEST, { duid, serverId: Uint8Array.of(0, 4, ...new Uint8Array(16)), ias: [{ iaid: 1 }] }));
    assert.equal(other.reason, 'other-server');
    assert.equal(other.reply, null);
  });

  it('UEFI HTTP Boot (arch 16) gets the booter\'s http:// URL at the IPv6 address', async () => {
    const h = await harness();
    const d = h.decide(msg(Msg6.SOLICIT, { duid: duidLL(VM10), ias: [{ iaid: 1 }], extra: [ARCH(16)] }));
    assert.equal(Buffer.from(first(inner(d.reply).options, Opt6.BOOTFILE_URL)!).toString(), 'http://[fd77::1]:8080/boot/files/ipxe.efi');
    assert.equal(d.data.client, 'uefi-http');
    // An IPv4 literal in servers.http.publicUrl is no URL for an IPv6 client.
    const withV4 = policy6Settings(parseConfig(LAB6.replace('http: { port: 8080 }', 'http: { port: 8080, publicUrl: "http://10.77.0.1:8080" }'), '/tmp/lab6.yaml'))!;
    assert.equal(withV4.boot.base, 'http://[fd77::1]:8080');
    const named = policy6Settings(parseConfig(LAB6.replace('http: { port: 8080 }', 'http: { port: 8080, publicUrl: "http://boot.lab.test/" }'), '/tmp/lab6.yaml'))!;
    assert.equal(named.boot.base, 'http://boot.lab.test');
  });

  it('UEFI HTTP Boot over IPv6: an HTTPClient gets option 16 HTTPClient beside its http:// URL (edk2 boots only such an offer); a PXEClient never gets option 16', async () => {
    const h = await harness();
    h.boot.set(VM10, { mac: VM10, mode: 'install', profile: 'debian12', token: 'tok', since: 0 });
    const duid = duidLL(VM10);
    // What OVMF's HttpBootDxe sends: ORO 59 60 23 16, option 61 = 16, vendor class 343 "HTTPClient:Arch:00016:UNDI:003001".
    const oro: Option6 = { code: Opt6.ORO, data: Uint8Array.from([...u16Bytes(59), ...u16Bytes(60), ...u16Bytes(23), ...u16Bytes(16)]) };
    const http = [oro, ARCH(16), encodeVendorClass(343, ['HTTPClient:Arch:00016:UNDI:003001'])];
    const adv = h.decide(msg(Msg6.SOLICIT, { duid, ias: [{ iaid: 1 }], extra: http }));
    const a = inner(adv.reply);
    assert.equal(Buffer.from(first(a.options, Opt6.BOOTFILE_URL)!).toString(), 'http://[fd77::1]:8080/boot/files/ipxe.efi');
    const vc = first(a.options, Opt6.VENDOR_CLASS);
    assert.ok(vc, `option 16 in the Advertise (sent: ${String(adv.data.sent)})`);
    assert.deepEqual(decodeVendorClass(vc), { enterprise: 343, classes: ['HTTPClient'] });
    // edk2's test, byte for byte: at least 16 bytes, "HTTPClient" after enterprise (4) and length (2).
    assert.ok(vc.length >= 16 && Buffer.from(vc.slice(6, 16)).toString('latin1') === 'HTTPClient');
    assert.equal(first(a.options, Opt6.BOOTFILE_PARAM), undefined, 'no option 60 to firmware');
    assert.equal(adv.data.client, 'uefi-http');
    const serverId = first(a.options, Opt6.SERVERID)!;
    const rep = h.decide(msg(Msg6.REQUEST, { duid, serverId, ias: [{ iaid: 1, addresses: ['fd77::10'] }], extra: http }));
    assert.equal(rep.reason, 'reply-request');
    assert.deepEqual(decodeVendorClass(first(inner(rep.reply).options, Opt6.VENDOR_CLASS)!).classes, ['HTTPClient']);
    assert.match(String(rep.data.sent), / 16$/);
    // edk2's PXE (architecture 7, PXEClient): no option 16, else it asks a boot server on port 4011.
    const pxe = h.decide(msg(Msg6.SOLICIT, { duid, ias: [{ iaid: 1 }], extra: [ORO_BOOT, ARCH(7), encodeVendorClass(343, ['PXEClient:Arch:00007:UNDI:003000'])] }));
    assert.equal(Buffer.from(first(inner(pxe.reply).options, Opt6.BOOTFILE_URL)!).toString(), 'tftp://[fd77::1]/syslinux.efi');
    assert.equal(first(inner(pxe.reply).options, Opt6.VENDOR_CLASS), undefined, 'no option 16 to a PXEClient');
    // An HTTPClient whose answer is no http URL (architecture 7: a TFTP loader) gets none either.
    const odd = h.decide(msg(Msg6.SOLICIT, { duid, ias: [{ iaid: 1 }], extra: [ORO_BOOT, ARCH(7), encodeVendorClass(343, ['HTTPClient:Arch:00007'])] }));
    assert.equal(first(inner(odd.reply).options, Opt6.VENDOR_CLASS), undefined, 'no option 16 without an http URL');
  });

  it('iPXE over DHCPv6 (DUID-UUID, user class iPXE): the host from its EUI-64 link-local source, its reservation and its script at [fd77::1]', async () => {
    const h = await harness();
    h.boot.set(VM10, { mac: VM10, mode: 'install', profile: 'debian12', token: 'tok', since: 0 });
    // What iPXE sends: DUID-UUID (the SMBIOS UUID), ORO, vendor class PXEClient, user class iPXE, option 61.
    const duid = Uint8Array.from([0, 4, ...new Uint8Array(16).fill(0x5a)]);
    const userClass: Option6 = { code: Opt6.USER_CLASS, data: Uint8Array.from([0, 4, ...Buffer.from('iPXE')]) };
    const extra = [ORO_BOOT, ARCH(7), encodeVendorClass(343, ['PXEClient:Arch:00007:UNDI:003010']), userClass];
    const unknown = h.decide(msg(Msg6.SOLICIT, { duid, ias: [{ iaid: 1 }], extra }));
    assert.equal(unknown.reason, 'unknown-client', 'a DUID-UUID alone names no host');
    const adv = h.decide(msg(Msg6.SOLICIT, { duid, ias: [{ iaid: 1 }], extra }), 'fe80::5054:ff:fe77:10');
    assert.equal(adv.reason, 'advertise-reservation');
    assert.equal(adv.host, 'vm10');
    assert.equal(adv.data.client, 'ipxe');
    const a = inner(adv.reply);
    assert.deepEqual(iaAddresses(a), ['fd77::10/3600']);
    assert.equal(Buffer.from(first(a.options, Opt6.BOOTFILE_URL)!).toString(), 'http://[fd77::1]:8080/boot/ipxe/52-54-00-77-00-10');
    assert.equal(first(a.options, Opt6.VENDOR_CLASS), undefined, 'no option 16 to a PXEClient, iPXE included');
    // The firmware before it bound the reservation under its DUID-LL: iPXE, the same host (the
    // lease's owner is its MAC), gets it too.
    const sid = first(a.options, Opt6.SERVERID)!;
    assert.equal(h.decide(msg(Msg6.REQUEST, { duid: duidLL(VM10), serverId: sid, ias: [{ iaid: 9, addresses: ['fd77::10'] }], extra: [ORO_BOOT, ARCH(16)] })).reason, 'reply-request');
    const rep = h.decide(msg(Msg6.REQUEST, { duid, serverId: first(a.options, Opt6.SERVERID)!, ias: [{ iaid: 1, addresses: ['fd77::10'] }], extra }), 'fe80::5054:ff:fe77:10');
    assert.equal(rep.reason, 'reply-request');
    assert.deepEqual(iaAddresses(inner(rep.reply)), ['fd77::10/3600']);
  });

  it('an install: boot firmware (option 61) gets the loader URL and never option 60; a client without option 61 that asks gets the kernel arguments at [serverIp]', async () => {
    // edk2's PXE reads option 60's first parameter as the boot file size (1-5 digits) and stops
    // with PXE-E53 when it is the kernel command line: what OVMF did in the lab (issue 23).
    const h = await harness();
    h.boot.set(VM10, { mac: VM10, mode: 'install', profile: 'debian12', token: 'tok', since: 0 });
    const duid = duidLL(VM10);
    const adv = h.decide(msg(Msg6.SOLICIT, { duid, ias: [{ iaid: 1 }], extra: [ORO_BOOT, ARCH(7)] }));
    const a = inner(adv.reply);
    assert.equal(Buffer.from(first(a.options, Opt6.BOOTFILE_URL)!).toString(), 'tftp://[fd77::1]/syslinux.efi');
    assert.equal(first(a.options, Opt6.BOOTFILE_PARAM), undefined, 'no option 60 in the Advertise to firmware');
    assert.equal(adv.data.asked, '1 3 6 61');
    assert.equal(adv.data.sent, '1 2 3 7 23 24 59');
    const serverId = first(a.options, Opt6.SERVERID)!;
    const rep = h.decide(msg(Msg6.REQUEST, { duid, serverId, ias: [{ iaid: 1, addresses: ['fd77::10'] }], extra: [ORO_BOOT, ARCH(7)] }));
    const r = inner(rep.reply);
    assert.equal(rep.reason, 'reply-request');
    assert.equal(Buffer.from(first(r.options, Opt6.BOOTFILE_URL)!).toString(), 'tftp://[fd77::1]/syslinux.efi');
    assert.equal(first(r.options, Opt6.BOOTFILE_PARAM), undefined, 'no option 60 in the Reply to firmware');
    // An installed system's client (no option 61) asking for both: the install's kernel arguments,
    // with URLs at 3rc's IPv6 address.
    const info = inner(h.decide(msg(Msg6.INFORMATION_REQUEST, { duid, extra: [ORO_BOOT] })).reply);
    const params = decodeOpaqueList(Opt6.BOOTFILE_PARAM, first(info.options, Opt6.BOOTFILE_PARAM)!).map((b) => Buffer.from(b).toString());
    assert.deepEqual(params, ['3rc.image=http://[fd77::1]:8080/ks/52-54-00-77-00-10?token=tok']);
  });

  it('Rapid Commit: a Solicit with option 14 gets a Reply and a bound lease at once', async () => {
    const h = await harness();
    const d = h.decide(msg(Msg6.SOLICIT, { duid: duidLL(VM10), ias: [{ iaid: 1 }], extra: [{ code: Opt6.RAPID_COMMIT, data: new Uint8Array(0) }] }));
    assert.equal(d.reason, 'reply-rapid-commit');
    const r = inner(d.reply);
    assert.equal(r.type, Msg6.REPLY);
    assert.ok(first(r.options, Opt6.RAPID_COMMIT));
    assert.equal(d.leases[0]?.op, 'commit');
  });

  it('unknown clients: ignored on a prefix without pool; pool addresses never twice, relayed with interface-id', async () => {
    const h = await harness();
    const stranger = Uint8Array.of(0, 4, ...Array.from({ length: 16 }, (_, i) => i));
    assert.equal(h.decide(msg(Msg6.SOLICIT, { duid: stranger, ias: [{ iaid: 1 }] })).reason, 'unknown-client');
    assert.equal(h.decide(msg(Msg6.SOLICIT, { duid: duidLL('52:54:00:77:00:11'), ias: [{ iaid: 1 }] })).reason, 'no-ipv6-reservation');
    const relay = (m: Dhcp6Message, i: number): Dhcp6Relay => ({ relay: true, type: Msg6.RELAY_FORW, hopCount: 0, linkAddress: 'fd77:0:0:1::1', peerAddress: `fe80::${i}`, options: [{ code: Opt6.INTERFACE_ID, data: Uint8Array.of(1, 2, i) }], message: m });
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const duid = Uint8Array.of(0, 4, ...new Uint8Array(15), i);
      const d = h.decide(relay(msg(Msg6.SOLICIT, { duid, ias: [{ iaid: 9 }], extra: [{ code: Opt6.RAPID_COMMIT, data: new Uint8Array(0) }] }), i));
      const r = d.reply;
      if (i === 4) {
        assert.equal(d.reason, 'advertise-no-address', 'the 4-address pool is exhausted');
        assert.equal(decodeStatus(first(inner(r).options, Opt6.STATUS_CODE)!).code, Status6.NO_ADDRS_AVAIL);
        continue;
      }
      assert.ok(r?.relay && r.type === Msg6.RELAY_REPL);
      assert.deepEqual(r.options, [{ code: Opt6.INTERFACE_ID, data: Uint8Array.of(1, 2, i) }]);
      assert.equal(r.peerAddress, `fe80::${i}`);
      got.push(...iaAddresses(inner(r)));
    }
    assert.deepEqual(got.sort(), ['fd77:0:0:1::100/3600', 'fd77:0:0:1::101/3600', 'fd77:0:0:1::102/3600', 'fd77:0:0:1::103/3600']);
  });

  it('MAC from option 79 when the DUID has none: the reservation of that host', async () => {
    const h = await harness();
    const duid = Uint8Array.of(0, 4, ...new Uint8Array(16).fill(7));
    const d = h.decide({ relay: true, type: Msg6.RELAY_FORW, hopCount: 0, linkAddress: 'fd77::2', peerAddress: 'fe80::7', options: [{ code: Opt6.CLIENT_LINKLAYER_ADDR, data: Uint8Array.of(0, 1, 0x52, 0x54, 0, 0x77, 0, 0x10) }], message: msg(Msg6.SOLICIT, { duid, ias: [{ iaid: 1 }] }) });
    assert.equal(d.mac, VM10);
    assert.deepEqual(iaAddresses(inner(d.reply)), ['fd77::10/3600']);
  });

  it('Renew and Rebind extend; a wrong address gets lifetime 0 next to the right one', async () => {
    const h = await harness();
    const duid = duidLL(VM10);
    const serverId = h.settings.serverId;
    h.decide(msg(Msg6.REQUEST, { duid, serverId, ias: [{ iaid: 1 }] }));
    h.now += 1_800_000;
    const renew = h.decide(msg(Msg6.RENEW, { duid, serverId, ias: [{ iaid: 1, addresses: ['fd77::10'] }] }));
    assert.equal(renew.reason, 'reply-renew');
    assert.equal(renew.leases[0]?.lease.expiresAt, h.now + 3_600_000);
    const rebind = h.decide(msg(Msg6.REBIND, { duid, ias: [{ iaid: 1, addresses: ['fd77::99'] }] }));
    assert.equal(rebind.reason, 'reply-rebind');
    assert.deepEqual(iaAddresses(inner(rebind.reply)), ['fd77::10/3600', 'fd77::99/0']);
    assert.equal(h.decide(msg(Msg6.REBIND, { duid, serverId, ias: [{ iaid: 1 }] })).reason, 'server-id-not-allowed');
  });

  it('Confirm: Success on link, NotOnLink off link; Release and Decline', async () => {
    const h = await harness();
    const duid = duidLL(VM10);
    const serverId = h.settings.serverId;
    const st = (d: Decision6) => decodeStatus(first(inner(d.reply).options, Opt6.STATUS_CODE)!).code;
    assert.equal(st(h.decide(msg(Msg6.CONFIRM, { duid, ias: [{ iaid: 1, addresses: ['fd77::10'] }] }))), Status6.SUCCESS);
    assert.equal(st(h.decide(msg(Msg6.CONFIRM, { duid, ias: [{ iaid: 1, addresses: ['fd99::10'] }] }))), Status6.NOT_ON_LINK);
    h.decide(msg(Msg6.REQUEST, { duid, serverId, ias: [{ iaid: 1 }] }));
    const rel = h.decide(msg(Msg6.RELEASE, { duid, serverId, ias: [{ iaid: 1, addresses: ['fd77::10'] }, { iaid: 2, addresses: ['fd77::11'] }] }));
    assert.equal(rel.reason, 'reply-release');
    assert.equal(rel.leases[0]?.lease.state, 'released');
    const noBinding = all(inner(rel.reply).options, Opt6.IA_NA).map(decodeIaNa).find((ia) => ia.iaid === 2);
    assert.equal(noBinding?.status?.code, Status6.NO_BINDING);
    // A reserved address is never marked declined.
    h.decide(msg(Msg6.REQUEST, { duid, serverId, ias: [{ iaid: 1 }] }));
    const dec = h.decide(msg(Msg6.DECLINE, { duid, serverId, ias: [{ iaid: 1, addresses: ['fd77::10'] }] }));
    assert.equal(dec.reason, 'decline-reserved');
    assert.deepEqual(dec.leases, []);
  });

  it('Information-request: name servers and boot URL without any address; with an IA: dropped', async () => {
    const h = await harness();
    const d = h.decide(msg(Msg6.INFORMATION_REQUEST, { duid: duidLL(VM10), extra: [ORO_BOOT] }));
    assert.equal(d.reason, 'reply-information');
    const r = inner(d.reply);
    assert.ok(first(r.options, Opt6.DNS_SERVERS));
    assert.ok(first(r.options, Opt6.BOOTFILE_URL));
    assert.equal(first(r.options, Opt6.IA_NA), undefined);
    assert.equal(h.decide(msg(Msg6.INFORMATION_REQUEST, { duid: duidLL(VM10), ias: [{ iaid: 1 }] })).reason, 'information-request-with-ia');
  });

  it('any message that decodes gets a decision, never an exception (hostile input)', async () => {
    const h = await harness();
    const codes = [...Object.values(Opt6), 999];
    const option = fc.record({ code: fc.constantFrom(...codes), data: fc.uint8Array({ maxLength: 40 }) });
    const known = fc.constantFrom(duidLL(VM10), h.settings.serverId, Uint8Array.of(0, 1, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6));
    const message = fc.record({
      type: fc.integer({ min: 0, max: 14 }),
      ids: fc.subarray([Opt6.CLIENTID, Opt6.SERVERID]),
      id: known,
      ias: fc.array(fc.record({ iaid: fc.nat(3), addresses: fc.array(fc.constantFrom('fd77::10', 'fd77:0:0:1::100', 'fd99::1', '::'), { maxLength: 2 }) }), { maxLength: 3 }),
      extra: fc.array(option, { maxLength: 4 }),
      relayed: fc.boolean(),
    });
    fc.assert(
      fc.property(message, (m) => {
        const base = msg(m.type, { ias: m.ias, extra: m.extra });
        for (const code of m.ids) base.options.unshift({ code, data: m.id });
        const p: Dhcp6Packet = m.relayed ? { relay: true, type: Msg6.RELAY_FORW, hopCount: 0, linkAddress: 'fd77:0:0:1::1', peerAddress: 'fe80::1', options: [], message: base } : base;
        let decoded: Dhcp6Packet;
        try {
          decoded = decode(encode(p));
        } catch {
          return; // not a valid message: the codec's to refuse (packet.test.ts)
        }
        const d = h.decide(decoded);
        assert.equal(typeof d.reason, 'string');
        if (d.reply) decode(encode(d.reply));
      }),
      { numRuns: 2000 },
    );
  });

  it('server messages and messages without client id are ignored', async () => {
    const h = await harness();
    assert.equal(h.decide(msg(Msg6.ADVERTISE, { duid: duidLL(VM10) })).reason, 'not-a-client-message');
    assert.equal(h.decide(msg(Msg6.SOLICIT, { ias: [{ iaid: 1 }] })).reason, 'no-client-id');
    assert.equal(h.decide(msg(Msg6.REQUEST, { duid: duidLL(VM10), ias: [{ iaid: 1 }] })).reason, 'server-id-missing');
  });
});
