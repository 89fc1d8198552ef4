/**
 * A DHCP relay for the failover test, run inside the client namespace:
 * `node fanout-relay.js LISTEN CLIENT SERVER...`. It takes what a relaying client (perfdhcp -l
 * CLIENT) sends to LISTEN:67, forwards it to every SERVER with giaddr = LISTEN (as dhcrelay does
 * with several servers), and brings each answer back to CLIENT:67. It prints one JSON line per
 * answer as it passes: {at, from, type, xid, mac, ip}, so the test sees every OFFER, ACK and NAK
 * that any 3rc instance sent, whoever was leader.
 */
import dgram from 'node:dgram';
import { F, getField } from '../../src/dhcp/options.js';
import { clientMac, decode } from '../../src/dhcp/packet.js';

const [listen, client, ...servers] = process.argv.slice(2) as [string, string, ...string[]];
const ip = (s: string) => Buffer.from(s.split('.').map(Number));
const GIADDR = 24;

const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
sock.on('message', (m, rinfo) => {
  const b = Buffer.from(m);
  // A marker from the test (`MARK <text>`), sent along a server's own path after that server
  // was killed: every answer the server sent before it died arrives before the marker.
  if (b.subarray(0, 5).toString('latin1') === 'MARK ') {
    process.stdout.write(`${JSON.stringify({ mark: b.subarray(5).toString('latin1'), from: rinfo.address })}\n`);
    return;
  }
  if (b.length < 240) return;
  if (b[0] === 1 && rinfo.address === client) {
    ip(listen).copy(b, GIADDR);
    for (const s of servers) sock.send(b, 67, s);
    return;
  }
  if (b[0] !== 2) return;
  try {
    const p = decode(b);
    const type = getField(p.options, F.messageType);
    process.stdout.write(`${JSON.stringify({ at: Date.now(), from: rinfo.address, type, xid: p.xid, mac: clientMac(p), ip: p.yiaddr })}\n`);
  } catch {
    /* not decodable: still passed on */
  }
  ip(client).copy(b, GIADDR);
  sock.send(b, 67, client);
});
sock.bind(67, listen, () => process.stdout.write(`${JSON.stringify({ listening: `${listen}:67` })}\n`));
