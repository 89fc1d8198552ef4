import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DhcpOptions, F, getField, MessageType, Opt } from './options.js';
import { PxeF } from './options-pxe.js';
import { FLAG_BROADCAST, decode, encode } from './packet.js';
import { decide, type Decision } from './policy.js';
import { harness, request, type Harness, type RequestSpec } from './testkit.js';

const VM10 = '52:54:00:77:00:10';
const STRANGER = '52:54:00:99:00:01';
const { DISCOVER, REQUEST, DECLINE, RELEASE, INFORM, OFFER, ACK, NAK } = MessageType;

/** Applies a decision's lease change the way the server does. */
async function apply(h: Harness, d: Decision): Promise<Decision> {
  if (d.cursor) h.cursors.set(d.cursor.subnet, d.cursor.next);
  const l = d.lease;
  if (l?.op === 'hold') h.leases.hold(l.lease);
  else if (l?.op === 'unhold') h.leases.unhold(l.ip, l.mac);
  else if (l?.op === 'commit') await h.leases.commit(l.lease);
  return d;
}

async function send(h: Harness, spec: RequestSpec): Promise<Decision> {
  // Through the codec, as the server does: what the policy sees is what decode gives.
  return apply(h, decide(decode(encode(request(spec))), h.ctx()));
}

function mt(d: Decision): number | undefined {
  return d.reply ? getField(d.reply.packet.options, F.messageType) : undefined;
}

/** DISCOVER then REQUEST (selecting); returns the ACK decision. */
async function bind(h: Harness, mac: string, extra: Partial<RequestSpec> = {}): Promise<Decision> {
  const offer = await send(h, { type: DISCOVER, mac, ...extra });
  assert.equal(mt(offer), OFFER, `no offer for ${mac}: ${offer.reason}`);
  const ack = await send(h, { type: REQUEST, mac, serverId: '10.77.0.1', requested: offer.reply!.packet.yiaddr, ...extra });
  assert.equal(mt(ack), ACK, `no ack for ${mac}: ${ack.reason}`);
  return ack;
}

describe('dhcp policy: reservations', () => {
  it('offers the reserved address with network, host and boot options, broadcast', async () => {
    const h = await harness();
    const d = await send(h, { type: DISCOVER, mac: VM10, options: [[Opt.PARAMETER_LIST, [1, 3, 6, 12, 15, 66, 67]]] });
    assert.equal(d.reason, 'offer-reservation');
    assert.equal(d.host, 'vm10');
    const p = d.reply!.packet;
    assert.equal(mt(d), OFFER);
    assert.equal(p.yiaddr, '10.77.0.10');
    assert.equal(p.siaddr, '10.77.0.1');
    assert.equal(p.file, 'pxelinux.0');
    assert.equal(p.xid, 0x1234);
    const o = p.options;
    assert.equal(getField(o, F.serverId), '10.77.0.1');
    assert.equal(getField(o, F.subnetMask), '255.255.255.0');
    assert.equal(getField(o, F.broadcast), '10.77.0.255');
    assert.deepEqual(getField(o, F.router), ['10.77.0.1']);
    assert.deepEqual(getField(o, F.dns), ['10.77.0.1']);
    assert.equal(getField(o, F.hostName), 'vm10');
    assert.equal(getField(o, F.domainName), 'lab.test');
    assert.equal(getField(o, F.leaseTime), 3600);
    assert.equal(getField(o, F.renewalTime), 1800);
    assert.equal(getField(o, F.rebindingTime), 3150);
    assert.equal(getField(o, F.tftpServer), '10.77.0.1');
    assert.equal(getField(o, F.bootfile), 'pxelinux.0');
    assert.deepEqual(d.reply!.to, { address: "255.255.255.255", port: 68, fallback: "10.77.0.255", subnet: "10.77.0.0/24" });
    assert.equal(d.lease?.op, 'hold');
    assert.equal(h.leases.byAddress('10.77.0.10')?.state, 'offered');
    // Not persisted: an offer is memory only.
    assert.equal((await h.store.listLeases()).length, 0);
  });

  it('ignores unknown MACs when the subnet has no pool', async () => {
    const h = await harness();
    const d = await send(h, { type: DISCOVER, mac: STRANGER });
    assert.equal(d.reply, null);
    assert.equal(d.reason, 'unknown-mac');
    assert.equal(d.type, 'discover');
    assert.equal((await send(h, { type: REQUEST, mac: STRANGER, requested: '10.77.0.50' })).reason, 'unknown-mac');
  });

  it('ACKs a selecting REQUEST for our server id and persists the lease', async () => {
    const h = await harness();
    const ack = await bind(h, VM10);
    assert.equal(ack.reason, 'ack-selecting');
    assert.equal(ack.lease?.op, 'commit');
    const stored = await h.store.listLeases();
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.ip, '10.77.0.10');
    assert.equal(stored[0]!.state, 'bound');
    assert.equal(stored[0]!.expiresAt, h.now + 3600_000);
    assert.equal(stored[0]!.hostname, 'vm10');
  });

  it('ignores a REQUEST for another server and drops its offer', async () => {
    const h = await harness({ start: '10.77.0.100', end: '10.77.0.101' });
    const offer = await send(h, { type: DISCOVER, mac: STRANGER });
    const d = await send(h, { type: REQUEST, mac: STRANGER, serverId: '10.77.0.9', requested: offer.reply!.packet.yiaddr });
    assert.equal(d.reply, null);
    assert.equal(d.reason, 'other-server');
    assert.equal(h.leases.byAddress(offer.reply!.packet.yiaddr), undefined);
  });

  it('NAKs a selecting REQUEST for an address that was not offered', async () => {
    const h = await harness();
    await send(h, { type: DISCOVER, mac: VM10 });
    const d = await send(h, { type: REQUEST, mac: VM10, serverId: '10.77.0.1', requested: '10.77.0.11' });
    assert.equal(mt(d), NAK);
    assert.equal(d.reason, 'nak-not-offered');
    assert.equal(d.reply!.packet.yiaddr, '0.0.0.0');
    assert.equal(d.reply!.to.address, '255.255.255.255');
  });

  it('INIT-REBOOT: ACKs the right address, NAKs a wrong one', async () => {
    const h = await harness();
    const ok = await send(h, { type: REQUEST, mac: VM10, requested: '10.77.0.10' });
    assert.equal(ok.reason, 'ack-init-reboot');
    const bad = await send(h, { type: REQUEST, mac: VM10, requested: '192.168.1.5' });
    assert.equal(mt(bad), NAK);
    assert.equal(bad.reason, 'nak-wrong-address');
  });

  it('RENEWING: ACKs unicast to ciaddr; NAKs a client renewing an address that is not its own', async () => {
    const h = await harness();
    await bind(h, VM10);
    h.now += 1800_000;
    const d = await send(h, { type: REQUEST, mac: VM10, ciaddr: '10.77.0.10' });
    assert.equal(d.reason, 'ack-renew');
    assert.deepEqual(d.reply!.to, { address: '10.77.0.10', port: 68 });
    assert.equal(d.reply!.packet.ciaddr, '10.77.0.10');
    assert.equal((await h.store.listLeases())[0]!.expiresAt, h.now + 3600_000);
    const wrong = await send(h, { type: REQUEST, mac: VM10, ciaddr: '10.77.0.11' });
    assert.equal(mt(wrong), NAK);
  });

  it('honours the broadcast flag (copied into the reply)', async () => {
    const h = await harness();
    const d = await send(h, { type: DISCOVER, mac: VM10, flags: FLAG_BROADCAST });
    assert.equal(d.reply!.packet.flags, FLAG_BROADCAST);
    const d2 = await send(h, { type: DISCOVER, mac: VM10 });
    assert.equal(d2.reply!.packet.flags, 0);
  });

  it('DECLINE of a reserved address is recorded, never applied: one spoofed packet cannot take the host off the network', async () => {
    const h = await harness({ start: '10.77.0.20', end: '10.77.0.21' });
    await bind(h, VM10);
    // Forged: chaddr = the victim's MAC, option 50 = its reserved address. No server id needed.
    for (const spec of [
      { type: DECLINE, mac: VM10, serverId: '10.77.0.1', requested: '10.77.0.10' },
      { type: DECLINE, mac: VM10, requested: '10.77.0.10' },
      { type: DECLINE, mac: STRANGER, requested: '10.77.0.10' },
    ]) {
      const d = await send(h, spec);
      assert.equal(d.reason, 'decline-reserved');
      assert.equal(d.reply, null);
      assert.equal(d.lease, undefined, 'no lease change');
      assert.equal(d.data.ip, '10.77.0.10');
      assert.equal(d.data.reservedFor, 'vm10');
    }
    assert.deepEqual((await h.store.listLeases()).map((l) => [l.ip, l.state]), [['10.77.0.10', 'bound']]);
    assert.equal((await send(h, { type: DISCOVER, mac: VM10 })).reason, 'offer-reservation');
    assert.equal(mt(await send(h, { type: REQUEST, mac: VM10, requested: '10.77.0.10' })), ACK);
    assert.equal(mt(await send(h, { type: REQUEST, mac: VM10, ciaddr: '10.77.0.10' })), ACK);
  });

  it('a declined mark on a reserved address (stored by an older 3rc) does not block the host', async () => {
    const h = await harness();
    await h.leases.commit({ ip: '10.77.0.10', mac: VM10, state: 'declined', expiresAt: h.now + 600_000, clientId: null, hostname: null, updatedAt: h.now });
    assert.equal((await send(h, { type: DISCOVER, mac: VM10 })).reason, 'offer-reservation');
    assert.equal((await send(h, { type: REQUEST, mac: VM10, serverId: '10.77.0.1', requested: '10.77.0.10' })).reason, 'ack-selecting');
  });

  it('a reservation for an address a pool client still holds waits for that lease to end', async () => {
    const h = await harness({ start: '10.77.0.10', end: '10.77.0.10' });
    h.leases.hold({ ip: '10.77.0.10', mac: STRANGER, state: 'bound', expiresAt: h.now + 60_000, updatedAt: h.now });
    assert.equal((await send(h, { type: DISCOVER, mac: VM10 })).reason, 'reserved-address-in-use');
    assert.equal(mt(await send(h, { type: REQUEST, mac: VM10, requested: '10.77.0.10' })), NAK);
    h.now += 60_000;
    assert.equal((await send(h, { type: DISCOVER, mac: VM10 })).reason, 'offer-reservation');
  });

  it('RELEASE frees the lease; INFORM answers without lease time or yiaddr', async () => {
    const h = await harness({ start: '10.77.0.100', end: '10.77.0.110' });
    await bind(h, VM10);
    const other = await send(h, { type: RELEASE, mac: STRANGER, ciaddr: '10.77.0.10', serverId: '10.77.0.1' });
    assert.equal(other.reason, 'release-not-ours');
    const r = await send(h, { type: RELEASE, mac: VM10, ciaddr: '10.77.0.10', serverId: '10.77.0.1' });
    assert.equal(r.reason, 'released');
    assert.equal((await h.store.listLeases())[0]!.state, 'released');
    const i = await send(h, { type: INFORM, mac: VM10, ciaddr: '10.77.0.10' });
    assert.equal(mt(i), ACK);
    assert.equal(i.reply!.packet.yiaddr, '0.0.0.0');
    assert.equal(getField(i.reply!.packet.options, F.leaseTime), undefined);
    assert.deepEqual(i.reply!.to, { address: '10.77.0.10', port: 68 });
    assert.equal(i.lease, undefined);
  });

  it('ignores BOOTP, replies and non-Ethernet hardware', async () => {
    const h = await harness();
    const bootp = request({ type: DISCOVER, mac: VM10 });
    bootp.options = new DhcpOptions();
    assert.equal(decide(bootp, h.ctx()).reason, 'bootp-not-served');
    const rep = request({ type: DISCOVER, mac: VM10 });
    rep.op = 2;
    assert.equal(decide(rep, h.ctx()).reason, 'not-a-request');
    const ib = request({ type: DISCOVER, mac: VM10 });
    ib.htype = 32;
    ib.hlen = 0;
    assert.equal(decide(ib, h.ctx()).reason, 'not-ethernet');
    assert.equal(decide(request({ type: OFFER, mac: VM10 }), h.ctx()).reason, 'not-a-client-message');
  });
});

describe('dhcp policy: pool', () => {
  const pool = { start: '10.77.0.8', end: '10.77.0.12' };

  it('never hands out a reserved address, the server or the router', async () => {
    const h = await harness(pool);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const mac = `52:54:00:99:00:0${i}`;
      const d = await send(h, { type: DISCOVER, mac });
      if (d.reply) got.push(d.reply.packet.yiaddr);
      else assert.equal(d.reason, 'pool-exhausted');
    }
    // 10.77.0.10 is vm10's reservation: the pool has 8, 9, 11, 12.
    assert.deepEqual(got, ['10.77.0.8', '10.77.0.9', '10.77.0.11', '10.77.0.12']);
    assert.equal((await send(h, { type: DISCOVER, mac: '52:54:00:99:00:09' })).reason, 'pool-exhausted');
    // Pool clients get no boot file (no BootTable entry) and no host name.
    const d = await send(h, { type: DISCOVER, mac: '52:54:00:99:00:00' });
    assert.equal(d.reply!.packet.file, '');
    assert.equal(getField(d.reply!.packet.options, F.hostName), undefined);
  });

  it('gives the same client the same address back, even after its lease expired', async () => {
    const h = await harness(pool);
    const first = (await bind(h, STRANGER)).reply!.packet.yiaddr;
    assert.equal((await bind(h, STRANGER)).reply!.packet.yiaddr, first);
    h.now += 2 * 3600_000;
    await bind(h, '52:54:00:99:00:02'); // takes a never-used address, not the expired one
    assert.equal((await bind(h, STRANGER)).reply!.packet.yiaddr, first);
  });

  it('an offer holds the address for offerHold, then it is free again', async () => {
    const h = await harness({ start: '10.77.0.20', end: '10.77.0.20' });
    assert.equal((await send(h, { type: DISCOVER, mac: STRANGER })).reply!.packet.yiaddr, '10.77.0.20');
    assert.equal((await send(h, { type: DISCOVER, mac: '52:54:00:99:00:02' })).reason, 'pool-exhausted');
    h.now += 30_000;
    assert.equal((await send(h, { type: DISCOVER, mac: '52:54:00:99:00:02' })).reply!.packet.yiaddr, '10.77.0.20');
    // The first client lost its offer: its REQUEST is NAKed.
    const late = await send(h, { type: REQUEST, mac: STRANGER, serverId: '10.77.0.1', requested: '10.77.0.20' });
    assert.equal(mt(late), NAK);
  });

  it('with the pool cursor: the same addresses as a full scan, holes reused once the pool is through', async () => {
    const h = await harness({ start: '10.77.0.20', end: '10.77.0.23' });
    h.useCursor = true;
    const macs = [1, 2, 3, 4, 5].map((i) => `52:54:00:99:03:0${i}`);
    const a = await send(h, { type: DISCOVER, mac: macs[0]! });
    assert.deepEqual(a.cursor, { subnet: '10.77.0.0/24', next: parseInt('0a4d0015', 16) });
    // macs[0] turns us down: its address becomes a hole below the cursor.
    await send(h, { type: REQUEST, mac: macs[0]!, serverId: '10.77.0.9', requested: '10.77.0.20' });
    const got = [];
    for (const mac of macs.slice(1)) got.push((await send(h, { type: DISCOVER, mac })).reply?.packet.yiaddr);
    assert.deepEqual(got, ['10.77.0.21', '10.77.0.22', '10.77.0.23', '10.77.0.20']);
    assert.equal((await send(h, { type: DISCOVER, mac: '52:54:00:99:03:09' })).reason, 'pool-exhausted');
  });

  it('prefers the address the client asks for when free', async () => {
    const h = await harness(pool);
    const d = await send(h, { type: DISCOVER, mac: STRANGER, requested: '10.77.0.11' });
    assert.equal(d.reply!.packet.yiaddr, '10.77.0.11');
    assert.equal(d.reason, 'offer-pool-requested');
    const taken = await send(h, { type: DISCOVER, mac: '52:54:00:99:00:02', requested: '10.77.0.11' });
    assert.notEqual(taken.reply!.packet.yiaddr, '10.77.0.11');
  });

  it('a declined pool address is skipped until declineHold has passed', async () => {
    const h = await harness({ start: '10.77.0.20', end: '10.77.0.21' });
    const ip = (await bind(h, STRANGER)).reply!.packet.yiaddr;
    await send(h, { type: DECLINE, mac: STRANGER, serverId: '10.77.0.1', requested: ip });
    const next = await send(h, { type: DISCOVER, mac: STRANGER });
    assert.notEqual(next.reply!.packet.yiaddr, ip);
    assert.equal((await send(h, { type: DISCOVER, mac: '52:54:00:99:00:03' })).reason, 'pool-exhausted');
    h.now += 600_000;
    assert.ok((await send(h, { type: DISCOVER, mac: '52:54:00:99:00:03' })).reply);
  });

  it('never gives one address to two clients: DISCOVERs and REQUESTs in the same tick', async () => {
    const h = await harness({ start: '10.77.0.20', end: '10.77.0.29' });
    const macs = Array.from({ length: 12 }, (_, i) => `52:54:00:99:01:${i.toString(16).padStart(2, '0')}`);
    // All decided before any write resolves, as when datagrams arrive in one tick.
    const offers = macs.map((mac) => {
      const d = decide(request({ type: DISCOVER, mac }), h.ctx());
      if (d.lease?.op === 'hold') h.leases.hold(d.lease.lease);
      return d;
    });
    const offered = offers.filter((d) => d.reply).map((d) => d.reply!.packet.yiaddr);
    assert.equal(offered.length, 10);
    assert.equal(new Set(offered).size, 10);
    // Two clients REQUEST the same address in one tick: commit is visible synchronously.
    const pending: Promise<void>[] = [];
    const same = ['52:54:00:99:02:01', '52:54:00:99:02:02'].map((mac) => {
      const d = decide(request({ type: REQUEST, mac, requested: offered[0], ciaddr: '0.0.0.0' }), h.ctx());
      if (d.lease?.op === 'commit') pending.push(h.leases.commit(d.lease.lease));
      return d;
    });
    await Promise.all(pending);
    // offered[0] is held by macs[0]: strangers get no ACK for it.
    assert.ok(same.every((d) => mt(d) !== ACK));
    const a = decide(request({ type: REQUEST, mac: macs[0]!, serverId: '10.77.0.1', requested: offered[0] }), h.ctx());
    if (a.lease?.op === 'commit') pending.push(h.leases.commit(a.lease.lease));
    const b = decide(request({ type: REQUEST, mac: macs[1]!, serverId: '10.77.0.1', requested: offered[0] }), h.ctx());
    assert.equal(mt(a), ACK);
    assert.equal(mt(b), NAK);
  });

  it('init-reboot from a pool client we have no record of: silent (RFC 2131 4.3.2)', async () => {
    const h = await harness(pool);
    const d = await send(h, { type: REQUEST, mac: STRANGER, requested: '10.77.0.9' });
    assert.equal(d.reply, null);
    assert.equal(d.reason, 'no-record');
    const wrongNet = await send(h, { type: REQUEST, mac: STRANGER, requested: '192.168.0.9' });
    assert.equal(mt(wrongNet), NAK);
  });
});

describe('dhcp policy: relay agents', () => {
  it('answers from the giaddr subnet to giaddr:67 and echoes option 82', async () => {
    const h = await harness();
    const agent: [number, number[]] = [Opt.RELAY_AGENT_INFO, [1, 4, 0, 0, 0, 7]];
    const d = await send(h, { type: DISCOVER, mac: STRANGER, giaddr: '10.77.1.1', options: [agent] });
    const p = d.reply!.packet;
    assert.equal(p.yiaddr, '10.77.1.100');
    assert.equal(p.giaddr, '10.77.1.1');
    assert.deepEqual(d.reply!.to, { address: '10.77.1.1', port: 67 });
    assert.deepEqual(getField(p.options, F.router), ['10.77.1.1']);
    assert.equal(getField(p.options, F.leaseTime), 600);
    assert.deepEqual([...p.options.get(Opt.RELAY_AGENT_INFO)!], agent[1]);
    // The pool skips vm11's reservation 10.77.1.101.
    const d2 = await send(h, { type: DISCOVER, mac: '52:54:00:99:00:02', giaddr: '10.77.1.1' });
    assert.equal(d2.reply!.packet.yiaddr, '10.77.1.102');
    const nak = await send(h, { type: REQUEST, mac: STRANGER, giaddr: '10.77.1.1', serverId: '10.77.0.1', requested: '10.77.1.103', options: [agent] });
    assert.equal(mt(nak), NAK);
    assert.equal(nak.reply!.packet.flags & FLAG_BROADCAST, FLAG_BROADCAST);
    assert.deepEqual(nak.reply!.to, { address: '10.77.1.1', port: 67 });
    assert.ok(nak.reply!.packet.options.has(Opt.RELAY_AGENT_INFO));
  });

  it('ignores a relay from a subnet it does not serve, and a reservation outside the relay subnet', async () => {
    const h = await harness();
    assert.equal((await send(h, { type: DISCOVER, mac: VM10, giaddr: '10.77.9.1' })).reason, 'no-subnet-for-relay');
    assert.equal((await send(h, { type: DISCOVER, mac: VM10, giaddr: '10.77.1.1' })).reason, 'reservation-outside-subnet');
  });
});

describe('dhcp policy: PXE', () => {
  const pxeClass: [number, number[]] = [Opt.VENDOR_CLASS, [...Buffer.from('PXEClient:Arch:00007:UNDI:003016')]];
  const uuid: [number, number[]] = [Opt.CLIENT_UUID, [0, ...Array.from({ length: 16 }, (_, i) => i + 1)]];

  it('boot file by option 93: BIOS, x64 UEFI (7 and 9), ARM64; an unset slot or unknown arch gets none, and the trace says why', async () => {
    const h = await harness();
    const file = async (arch: number[] | null) => (await send(h, { type: DISCOVER, mac: VM10, options: arch ? [[Opt.CLIENT_ARCH, arch]] : [] })).reply!.packet.file;
    assert.equal(await file([0, 0]), 'pxelinux.0');
    assert.equal(await file([0, 7]), 'syslinux.efi');
    assert.equal(await file([0, 9]), 'syslinux.efi');
    assert.equal(await file([0, 11]), 'grubaa64.efi');
    assert.equal(await file([0, 42]), '');
    assert.equal(await file(null), 'pxelinux.0');
    const ia32 = await send(h, { type: DISCOVER, mac: VM10, options: [[Opt.CLIENT_ARCH, [0, 6]]] });
    assert.deepEqual([ia32.reply!.packet.file, ia32.reply!.packet.siaddr, ia32.data.file], ['', '0.0.0.0', null]);
    assert.equal(ia32.data.bootFile, 'none for architecture 6 (UEFI ia32): servers.dhcp.bootFiles.efiIa32 is not set');
  });

  it('UEFI HTTP Boot: option 60 HTTPClient and the loader\'s http:// URL in 67 (asked or not), no TFTP server; PXEClient answers carry no HTTPClient', async () => {
    const h = await harness();
    const httpClass: [number, number[]] = [Opt.VENDOR_CLASS, [...Buffer.from('HTTPClient:Arch:00016:UNDI:003001')]];
    // OVMF's HTTP Boot DISCOVER asks 1, 3, 6, 15, 60, 66, 67 among others.
    const params: [number, number[]] = [Opt.PARAMETER_LIST, [1, 3, 6, 15, 60, 66, 67]];
    const d = await send(h, { type: DISCOVER, mac: VM10, options: [httpClass, [Opt.CLIENT_ARCH, [0, 16]], params, uuid] });
    // On the wire, as the firmware reads it.
    const wire = decode(encode(d.reply!.packet));
    assert.equal(getField(wire.options, PxeF.vendorClass), 'HTTPClient');
    assert.deepEqual([...wire.options.get(Opt.VENDOR_CLASS)!], [...Buffer.from('HTTPClient')]);
    assert.equal(getField(wire.options, F.bootfile), 'http://10.77.0.1:8080/boot/files/ipxe.efi');
    assert.equal(wire.file, 'http://10.77.0.1:8080/boot/files/ipxe.efi');
    assert.equal(wire.options.has(Opt.TFTP_SERVER), false, 'no TFTP in an HTTP Boot answer');
    assert.equal(wire.options.has(Opt.VENDOR_SPECIFIC), false, 'no PXE option 43 for HTTP Boot');
    assert.deepEqual([...wire.options.get(Opt.CLIENT_UUID)!], uuid[1]);
    assert.deepEqual([d.data.arch, d.data.client, d.data.pxe], [16, 'uefi-http', true]);
    // Without 67 in its parameter list, and without option 93 (the vendor class says Arch 16): the same URL in 67.
    const bare = decode(encode((await send(h, { type: DISCOVER, mac: VM10, options: [httpClass] })).reply!.packet));
    assert.equal(getField(bare.options, F.bootfile), 'http://10.77.0.1:8080/boot/files/ipxe.efi');
    // The ACK carries the same.
    const ack = await send(h, { type: REQUEST, mac: VM10, serverId: '10.77.0.1', requested: '10.77.0.10', options: [httpClass, [Opt.CLIENT_ARCH, [0, 16]]] });
    assert.equal(mt(ack), ACK);
    assert.equal(getField(decode(encode(ack.reply!.packet)).options, PxeF.vendorClass), 'HTTPClient');
    // A PXEClient asking the same gets PXEClient (never HTTPClient) and a TFTP path.
    const pxe = decode(encode((await send(h, { type: DISCOVER, mac: VM10, options: [pxeClass, [Opt.CLIENT_ARCH, [0, 7]], params] })).reply!.packet));
    assert.deepEqual([...pxe.options.get(Opt.VENDOR_CLASS)!], [...Buffer.from('PXEClient')]);
    assert.equal(getField(pxe.options, F.bootfile), 'syslinux.efi');
    assert.equal(getField(pxe.options, F.tftpServer), '10.77.0.1');
    // An HTTPClient with a PXE architecture gets no boot file (not a TFTP path it cannot use), and why.
    const odd = await send(h, { type: DISCOVER, mac: VM10, options: [[Opt.VENDOR_CLASS, [...Buffer.from('HTTPClient:Arch:00007')]], [Opt.CLIENT_ARCH, [0, 7]]] });
    assert.deepEqual([odd.reply!.packet.file, odd.reply!.packet.options.has(Opt.VENDOR_CLASS)], ['', false]);
    assert.match(String(odd.data.bootFile), /an HTTPClient, but not an HTTP Boot architecture/);
  });

  it('a profile\'s loaders win over servers.dhcp.bootFiles for its hosts', async () => {
    const h = await harness();
    h.ctx().settings.profiles = new Map([['debian12', { loaders: { efiX64: 'shimx64.efi', httpX64: 'efi/shimx64.efi' }, chain: 'grub' }]]);
    assert.equal((await send(h, { type: DISCOVER, mac: VM10, options: [pxeClass, [Opt.CLIENT_ARCH, [0, 7]]] })).reply!.packet.file, 'shimx64.efi');
    const http = await send(h, { type: DISCOVER, mac: VM10, options: [[Opt.VENDOR_CLASS, [...Buffer.from('HTTPClient:Arch:00016')]], [Opt.CLIENT_ARCH, [0, 16]]] });
    assert.equal(http.reply!.packet.file, 'http://10.77.0.1:8080/boot/files/efi/shimx64.efi');
    assert.equal((await send(h, { type: DISCOVER, mac: VM10, options: [[Opt.CLIENT_ARCH, [0, 0]]] })).reply!.packet.file, 'pxelinux.0', 'a slot the profile does not set');
  });

  it('PXEClient gets 60 echoed, 43 discovery control = 8, 97 echoed', async () => {
    const h = await harness();
    const d = await send(h, { type: DISCOVER, mac: VM10, options: [pxeClass, [Opt.CLIENT_ARCH, [0, 7]], uuid] });
    const o = d.reply!.packet.options;
    assert.equal(getField(o, PxeF.vendorClass), 'PXEClient');
    assert.deepEqual([...o.get(Opt.VENDOR_SPECIFIC)!], [6, 1, 8, 255]);
    assert.deepEqual([...o.get(Opt.CLIENT_UUID)!], uuid[1]);
    assert.equal(d.data.arch, 7);
    assert.equal(d.data.pxe, true, 'a boot attempt, for the HA evidence');
    // A plain client (dhclient) gets no PXE options, and its request is no boot attempt.
    const plainD = await send(h, { type: DISCOVER, mac: VM10 });
    const plain = plainD.reply!.packet.options;
    assert.equal(plain.has(Opt.VENDOR_CLASS), false);
    assert.equal(plain.has(Opt.VENDOR_SPECIFIC), false);
    assert.equal(plainD.data.pxe, undefined);
    assert.equal(plainD.data.boot, 'local');
  });

  it('iPXE (user class iPXE, or option 175) gets the HTTP script URL and no-pxedhcp', async () => {
    const h = await harness();
    for (const opt of [[Opt.USER_CLASS, [...Buffer.from('iPXE')]], [Opt.IPXE_ENCAP, [177, 1, 1]]] as [number, number[]][]) {
      const d = await send(h, { type: DISCOVER, mac: VM10, options: [pxeClass, opt] });
      const p = d.reply!.packet;
      assert.equal(p.file, 'http://10.77.0.1:8080/boot/ipxe/52-54-00-77-00-10');
      assert.deepEqual([...p.options.get(Opt.IPXE_ENCAP)!], [176, 1, 1]);
      assert.equal(d.data.client, 'ipxe');
    }
  });

  it('servers.dhcp.ipxeScript false: iPXE is treated as plain PXE firmware (boot file by arch)', async () => {
    const h = await harness();
    h.ctx().settings.ipxeScript = false;
    const ipxe: [number, number[]] = [Opt.USER_CLASS, [...Buffer.from('iPXE')]];
    const bios = await send(h, { type: DISCOVER, mac: VM10, options: [pxeClass, ipxe, [Opt.CLIENT_ARCH, [0, 0]]] });
    assert.equal(bios.reply!.packet.file, 'pxelinux.0');
    // Without option 93 the vendor class's Arch field (00007 here) says which loader.
    assert.equal((await send(h, { type: DISCOVER, mac: VM10, options: [pxeClass, ipxe] })).reply!.packet.file, 'syslinux.efi');
    assert.equal(bios.data.client, 'ipxe');
    const efi = await send(h, { type: DISCOVER, mac: VM10, options: [pxeClass, ipxe, [Opt.CLIENT_ARCH, [0, 7]]] });
    assert.equal(efi.reply!.packet.file, 'syslinux.efi');
    // Still told not to wait for a ProxyDHCP offer.
    assert.deepEqual([...efi.reply!.packet.options.get(Opt.IPXE_ENCAP)!], [176, 1, 1]);
  });

  it('reads the BootTable at request time: no entry, no boot file', async () => {
    const h = await harness();
    h.boot.delete(VM10);
    const d = await send(h, { type: DISCOVER, mac: VM10 });
    assert.equal(d.reply!.packet.file, '');
    assert.equal(d.reply!.packet.siaddr, '0.0.0.0');
    h.boot.set(VM10, { mac: VM10, mode: 'install', profile: 'debian12', token: 't', since: 1 });
    const d2 = await send(h, { type: DISCOVER, mac: VM10 });
    assert.equal(d2.reply!.packet.file, 'pxelinux.0');
    assert.equal(d2.data.boot, 'install');
  });
});

describe('dhcp policy: ProxyDHCP mode', () => {
  const pxeClass: [number, number[]] = [Opt.VENDOR_CLASS, [...Buffer.from('PXEClient:Arch:00000:UNDI:002001')]];
  const proxyCtx = (h: Harness, extra: Partial<ReturnType<Harness['ctx']>> = {}) => {
    const c = h.ctx();
    return { ...c, settings: { ...c.settings, mode: 'proxy' as const }, ...extra };
  };

  it('answers a PXEClient DISCOVER with boot information and no address, and writes no lease', async () => {
    const h = await harness();
    const d = decide(request({ type: DISCOVER, mac: VM10, options: [pxeClass, [Opt.CLIENT_ARCH, [0, 0]]] }), proxyCtx(h));
    assert.equal(d.reason, 'proxy-offer');
    const p = d.reply!.packet;
    assert.equal(mt(d), OFFER);
    assert.equal(p.yiaddr, '0.0.0.0');
    assert.equal(p.siaddr, '10.77.0.1');
    assert.equal(p.file, 'pxelinux.0');
    assert.equal(getField(p.options, PxeF.vendorClass), 'PXEClient');
    assert.deepEqual([...p.options.get(Opt.VENDOR_SPECIFIC)!], [6, 1, 8, 255]);
    for (const code of [Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS, Opt.LEASE_TIME, Opt.HOST_NAME]) assert.equal(p.options.has(code), false, `option ${code} in a proxy offer`);
    assert.equal(d.lease, undefined);
    assert.equal(d.reply!.to.address, '255.255.255.255');
  });

  it('answers a UEFI HTTP Boot DISCOVER too: option 60 HTTPClient and the loader\'s URL, no address', async () => {
    const h = await harness();
    const httpClass: [number, number[]] = [Opt.VENDOR_CLASS, [...Buffer.from('HTTPClient:Arch:00016:UNDI:003001')]];
    const d = decide(request({ type: DISCOVER, mac: VM10, options: [httpClass, [Opt.CLIENT_ARCH, [0, 16]]] }), proxyCtx(h));
    assert.equal(d.reason, 'proxy-offer');
    const p = decode(encode(d.reply!.packet));
    assert.deepEqual([p.yiaddr, getField(p.options, PxeF.vendorClass), getField(p.options, F.bootfile)], ['0.0.0.0', 'HTTPClient', 'http://10.77.0.1:8080/boot/files/ipxe.efi']);
    assert.equal(p.options.has(Opt.VENDOR_SPECIFIC), false);
  });

  it('ignores non-PXE clients, unknown MACs, and REQUESTs on port 67 (the site server answers those)', async () => {
    const h = await harness({ start: '10.77.0.100', end: '10.77.0.110' });
    assert.equal(decide(request({ type: DISCOVER, mac: VM10 }), proxyCtx(h)).reason, 'proxy-not-pxe-client');
    assert.equal(decide(request({ type: DISCOVER, mac: STRANGER, options: [pxeClass] }), proxyCtx(h)).reason, 'unknown-mac');
    assert.equal(decide(request({ type: REQUEST, mac: VM10, serverId: '10.77.0.1', requested: '10.77.0.10', options: [pxeClass] }), proxyCtx(h)).reason, 'proxy-leaves-to-site-server');
  });

  it('answers a boot-server REQUEST on port 4011 with an ACK back to its source', async () => {
    const h = await harness();
    const req = request({ type: REQUEST, mac: VM10, ciaddr: '10.77.0.120', options: [pxeClass, [Opt.CLIENT_ARCH, [0, 7]]] });
    const d = decide(req, proxyCtx(h, { via: 'pxe', peer: { address: '10.77.0.120', port: 68 } }));
    assert.equal(d.reason, 'proxy-ack');
    assert.equal(mt(d), ACK);
    assert.equal(d.reply!.packet.file, 'syslinux.efi');
    assert.equal(d.reply!.packet.ciaddr, '10.77.0.120');
    assert.deepEqual(d.reply!.to, { address: '10.77.0.120', port: 68 });
    assert.equal(decide(request({ type: DISCOVER, mac: VM10, options: [pxeClass] }), proxyCtx(h, { via: 'pxe' })).reason, 'proxy-not-a-boot-request');
  });
});
