/**
 * A scripted PXE client for the ProxyDHCP test, run inside the client namespace (whose interface
 * already has an address from the site's DHCP server): `node pxe-client.js MAC BROADCAST CIADDR`.
 * It broadcasts a PXEClient DISCOVER (broadcast flag set) to BROADCAST:67, prints every OFFER it
 * gets within 2 s, then sends the PXE boot-server REQUEST to each proxy (an offer with yiaddr
 * 0.0.0.0 and option 60 PXEClient) on port 4011 and prints the ACK. One JSON line per answer.
 * It stands in for a PXE ROM; booting a real ROM through a ProxyDHCP is the lab issue's.
 */
import dgram from 'node:dgram';
import { F, getField, MessageType, setField } from '../../src/dhcp/options.js';
import { PxeF } from '../../src/dhcp/options-pxe.js';
import { BOOTREQUEST, decode, emptyPacket, encode, FLAG_BROADCAST, type DhcpPacket } from '../../src/dhcp/packet.js';

const [mac, broadcast, ciaddr] = process.argv.slice(2) as [string, string, string];

function pxeRequest(type: number, xid: number, ci = '0.0.0.0'): Uint8Array {
  const p = emptyPacket(BOOTREQUEST);
  p.xid = xid;
  p.flags = FLAG_BROADCAST;
  p.ciaddr = ci;
  p.chaddr.set(mac.split(':').map((x) => parseInt(x, 16)));
  setField(p.options, F.messageType, type);
  setField(p.options, PxeF.vendorClass, 'PXEClient:Arch:00000:UNDI:002001');
  setField(p.options, PxeF.clientArch, [0]);
  setField(p.options, PxeF.clientUuid, { type: 0, uuid: Uint8Array.from({ length: 16 }, (_, i) => i) });
  setField(p.options, F.parameterList, [1, 3, 6, 43, 60, 66, 67]);
  return encode(p);
}

function show(p: DhcpPacket, kind: string): string {
  return JSON.stringify({
    [kind]: {
      type: getField(p.options, F.messageType), serverId: getField(p.options, F.serverId) ?? null, yiaddr: p.yiaddr, siaddr: p.siaddr, file: p.file,
      vendorClass: getField(p.options, PxeF.vendorClass) ?? null, opt43: p.options.has(43) ? Buffer.from(p.options.get(43)!).toString('hex') : null,
    },
  });
}

const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
await new Promise<void>((r) => sock.bind(68, '0.0.0.0', () => r()));
sock.setBroadcast(true);
const xid = 0x3cc00000 + (process.pid & 0xffff);
const offers: DhcpPacket[] = [];
sock.on('message', (m) => {
  try {
    const p = decode(m);
    if (p.xid === xid && getField(p.options, F.messageType) === MessageType.OFFER) offers.push(p);
  } catch {
    /* not for us */
  }
});
sock.send(pxeRequest(MessageType.DISCOVER, xid), 67, broadcast);
await new Promise((r) => setTimeout(r, 2000));
sock.removeAllListeners('message');
for (const o of offers) console.log(show(o, 'offer'));

// PXE boot-server request to each proxy, on port 4011, from port 68.
for (const o of offers.filter((x) => x.yiaddr === '0.0.0.0' && getField(x.options, PxeF.vendorClass) === 'PXEClient')) {
  const server = getField(o.options, F.serverId)!;
  const ack = await new Promise<DhcpPacket | null>((resolve) => {
    const t = setTimeout(() => resolve(null), 2000);
    sock.on('message', (m) => {
      try {
        const p = decode(m);
        if (p.xid === xid + 1) {
          clearTimeout(t);
          resolve(p);
        }
      } catch {
        /* not for us */
      }
    });
    sock.send(pxeRequest(MessageType.REQUEST, xid + 1, ciaddr), 4011, server);
  });
  console.log(ack ? show(ack, 'ack') : JSON.stringify({ ack: null, server }));
}
sock.close();
