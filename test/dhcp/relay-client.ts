/**
 * A DHCP load client that speaks as a relay agent (giaddr set, from port 67), run inside a test
 * namespace: `node relay-client.js bind|verify SERVER GIADDR COUNT|FILE`. It prints one JSON line
 * per answer, as it arrives, so a test can kill the server mid-run and know exactly which leases
 * were acknowledged before that.
 *
 * bind:   COUNT clients (MACs 02:77:xx:xx:xx:xx) each DISCOVER, then REQUEST what was offered;
 *         prints {"ack":{mac,ip}} per ACK, then {"done":n}.
 * verify: for each {mac, ip} line of FILE, an INIT-REBOOT REQUEST (option 50, no server id);
 *         prints {"verify":{mac,ip,result:"ack"|"nak"|"timeout",got}} per client.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { F, getField, MessageType, setField } from '../../src/dhcp/options.js';
import { clientMac, decode, emptyPacket, encode, BOOTREQUEST } from '../../src/dhcp/packet.js';

const [mode, server, giaddr, arg] = process.argv.slice(2) as [string, string, string, string];

function macOf(i: number): Uint8Array {
  const b = new Uint8Array(16);
  b.set([0x02, 0x77, (i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255]);
  return b;
}

function packet(type: number, chaddr: Uint8Array, xid: number, requested?: string, serverId?: string): Uint8Array {
  const p = emptyPacket(BOOTREQUEST);
  p.xid = xid;
  p.giaddr = giaddr;
  p.hops = 1;
  p.chaddr = chaddr;
  setField(p.options, F.messageType, type);
  if (requested) setField(p.options, F.requestedIp, requested);
  if (serverId) setField(p.options, F.serverId, serverId);
  return encode(p);
}

const sock = dgram.createSocket('udp4');
await new Promise<void>((r) => sock.bind(67, giaddr, () => r()));
const waiting = new Map<number, (reply: ReturnType<typeof decode>) => void>();
sock.on('message', (m) => {
  try {
    const p = decode(m);
    const w = waiting.get(p.xid);
    if (w) {
      waiting.delete(p.xid);
      w(p);
    }
  } catch {
    /* not ours */
  }
});

let nextXid = (process.pid << 12) >>> 0;
function ask(bytes: (xid: number) => Uint8Array, timeoutMs = 1500, tries = 3): Promise<ReturnType<typeof decode> | null> {
  return new Promise((resolve) => {
    const xid = (nextXid = (nextXid + 1) >>> 0);
    let n = 0;
    const send = () => {
      if (n++ >= tries) {
        waiting.delete(xid);
        return resolve(null);
      }
      sock.send(bytes(xid), 67, server);
      timer = setTimeout(send, timeoutMs);
    };
    let timer: NodeJS.Timeout;
    waiting.set(xid, (p) => {
      clearTimeout(timer);
      resolve(p);
    });
    send();
  });
}

const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

if (mode === 'bind') {
  const count = Number(arg);
  let acks = 0;
  const one = async (i: number) => {
    const chaddr = macOf(i);
    const offer = await ask((x) => packet(MessageType.DISCOVER, chaddr, x));
    if (!offer || getField(offer.options, F.messageType) !== MessageType.OFFER) return;
    const ack = await ask((x) => packet(MessageType.REQUEST, chaddr, x, offer.yiaddr, getField(offer.options, F.serverId)));
    if (ack && getField(ack.options, F.messageType) === MessageType.ACK) {
      acks++;
      out({ ack: { mac: clientMac(ack), ip: ack.yiaddr } });
    }
  };
  // 16 clients in flight at a time.
  let i = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (i < count) await one(i++);
  }));
  out({ done: acks });
} else {
  const list = readFileSync(arg, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { mac: string; ip: string });
  for (const { mac, ip } of list) {
    const chaddr = new Uint8Array(16);
    chaddr.set(mac.split(':').map((x) => parseInt(x, 16)));
    const r = await ask((x) => packet(MessageType.REQUEST, chaddr, x, ip), 1000, 2);
    const t = r ? getField(r.options, F.messageType) : undefined;
    out({ verify: { mac, ip, result: t === MessageType.ACK ? 'ack' : t === MessageType.NAK ? 'nak' : 'timeout', got: r?.yiaddr } });
  }
}
sock.close();
