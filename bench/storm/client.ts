/**
 * The boot-storm load generator: N PXE clients at once, in one process, run inside the client
 * namespace by bench/storm/storm.ts:
 *
 *   ip netns exec NS node dist/bench/storm/client.js SPEC.json
 *
 * Each client does what a BIOS PXE ROM + pxelinux do, in order: DHCP DISCOVER/OFFER/REQUEST/ACK
 * with the PXE options (vendor class PXEClient:Arch:00000, option 93 arch 0, a UUID), TFTP of the
 * boot file the OFFER names (pxelinux.0), then ldlinux.c32, then pxelinux.cfg/01-<mac>; with
 * `http`, it finally fetches the kickstart/preseed URL found on the config's APPEND line (with
 * its install token), as the installer would.
 *
 * DHCP goes through a relay agent, not broadcast: the process binds port 67 on the namespace's
 * one address and sets giaddr to it, and the server unicasts every answer there. Playing 2,000
 * address-less clients with broadcasts would need raw sockets (a UDP socket cannot send from
 * 0.0.0.0 without an address, and all broadcast answers would land on one port-68 socket
 * anyway); relaying is also how a 2,000-node site reaches its DHCP server (a relay per rack),
 * and the server does the same work per packet plus the subnet choice by giaddr. TFTP and HTTP
 * then come from the address the client was given (yiaddr), as a PXE ROM and pxelinux do (3rc
 * serves an install entry only to its host's address); storm.ts makes those addresses local to
 * the namespace. One UDP socket per transfer (servers tell transfers apart by port). Retransmissions follow the clients' habits, shortened: DHCP after 1, 2, 4, 4, 4, 4, 4, 4 s
 * (each randomised by +-50%, so that 2,000 clients do not retransmit in lock-step);
 * TFTP after 1, 1, 2, 2, 4, 4, 4, 4 s of silence. A client fails when a phase runs out of tries, gets a NAK
 * or a TFTP error, a file of the wrong size, or a non-200 answer.
 *
 * Prints one JSON line: every client's outcome summarised (see Report).
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { F, getField, MessageType, setField } from '../../src/dhcp/options.js';
import { PxeF } from '../../src/dhcp/options-pxe.js';
import { BOOTREQUEST, decode, emptyPacket, encode, type DhcpPacket } from '../../src/dhcp/packet.js';
import { decodePacket, encodeAck, encodeRequest, Op } from '../../src/tftp/packet.js';

export interface StormSpec {
  /** Server address (DHCP, TFTP, HTTP). */
  server: string;
  /**
   * This namespace's addresses: client i relays through (giaddr) and speaks from locals[i % n].
   * Several relays, like one per rack: one socket taking 2,000 answers at once would overflow
   * its receive buffer (net.core.rmem_max caps it) and the client, not the server, would drop.
   */
  locals: string[];
  macs: string[];
  /** Expected sizes of the fixed files, by name (pxelinux.0, ldlinux.c32). */
  sizes: Record<string, number>;
  blksize: number;
  /** Fetch the kickstart named in the pxelinux config. */
  http: boolean;
}

export interface Report {
  clients: number;
  done: number;
  failures: number;
  failedIn: Record<string, number>;
  errors: string[];
  /** Seconds from the start to the last client done (all phases it had to do). */
  seconds: number;
  /** Seconds until every client had its DHCP ACK; until its last TFTP file. */
  dhcpSeconds: number;
  tftpSeconds: number;
  retransmits: { dhcp: number; tftp: number };
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as StormSpec;
const report: Report = { clients: spec.macs.length, done: 0, failures: 0, failedIn: {}, errors: [], seconds: 0, dhcpSeconds: 0, tftpSeconds: 0, retransmits: { dhcp: 0, tftp: 0 } };
const t0 = performance.now();
const since = () => (performance.now() - t0) / 1000;

class Fail extends Error {
  constructor(readonly phase: string, message: string) {
    super(message);
  }
}

// ---- DHCP through the relay sockets -----------------------------------------------------------
const waiting = new Map<number, (p: DhcpPacket) => void>();
const relays = new Map<string, dgram.Socket>();
for (const local of spec.locals) {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(67, local, () => r()));
  try {
    s.setRecvBufferSize(8 * 1024 * 1024);
  } catch {
    /* capped by net.core.rmem_max: fine */
  }
  s.on('message', (m) => {
    let p: DhcpPacket;
    try {
      p = decode(m);
    } catch {
      return;
    }
    waiting.get(p.xid)?.(p);
  });
  relays.set(local, s);
}

function dhcpPacket(type: number, local: string, mac: Uint8Array, xid: number, extra: (p: DhcpPacket) => void = () => undefined): Uint8Array {
  const p = emptyPacket(BOOTREQUEST);
  p.xid = xid;
  p.giaddr = local;
  p.hops = 1;
  p.chaddr = new Uint8Array(16);
  p.chaddr.set(mac);
  setField(p.options, F.messageType, type);
  setField(p.options, PxeF.vendorClass, 'PXEClient:Arch:00000:UNDI:002001');
  setField(p.options, PxeF.clientArch, [0]);
  setField(p.options, PxeF.clientUuid, { type: 0, uuid: Uint8Array.from({ length: 16 }, (_, i) => mac[i % 6]! ^ i) });
  setField(p.options, F.maxMessageSize, 1260);
  setField(p.options, F.parameterList, [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135]);
  extra(p);
  return encode(p);
}

/** Waits before each retransmission, randomised by +-50% (RFC 2131 4.1 randomises too). */
const DHCP_WAITS = [1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000];
const jitter = (ms: number) => ms * (0.5 + Math.random());

function exchange(local: string, bytes: Uint8Array, xid: number, want: number): Promise<DhcpPacket> {
  const dhcp = relays.get(local)!;
  return new Promise((resolve, reject) => {
    let attempt = 0;
    let timer: NodeJS.Timeout;
    const send = () => {
      if (attempt >= DHCP_WAITS.length) {
        waiting.delete(xid);
        return reject(new Fail('dhcp', `no ${want === MessageType.OFFER ? 'OFFER' : 'ACK'} after ${attempt} tries`));
      }
      if (attempt > 0) report.retransmits.dhcp++;
      dhcp.send(bytes, 67, spec.server);
      timer = setTimeout(send, jitter(DHCP_WAITS[attempt++]!));
    };
    waiting.set(xid, (p) => {
      const t = getField(p.options, F.messageType);
      if (t === want) {
        clearTimeout(timer);
        waiting.delete(xid);
        resolve(p);
      } else if (t === MessageType.NAK) {
        clearTimeout(timer);
        waiting.delete(xid);
        reject(new Fail('dhcp', 'NAK'));
      }
    });
    send();
  });
}

// ---- TFTP: one socket per transfer -------------------------------------------------------------
/** Silence before each retransmission of the last packet (RRQ or ACK); pxelinux waits longer. */
const TFTP_WAITS = [1000, 1000, 2000, 2000, 4000, 4000, 4000, 4000];
function tftpGet(local: string, server: string, file: string, keep: boolean): Promise<{ bytes: number; data?: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const chunks: Buffer[] = [];
    let bytes = 0;
    let expected = 1;
    let peerPort = 0;
    let last: Buffer = encodeRequest(Op.RRQ, file, 'octet', [['tsize', '0'], ['blksize', String(spec.blksize)]]);
    let lastPort = 69;
    let blksize = 512;
    let tries = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      s.close();
      if (err) reject(err);
      else resolve({ bytes, ...(keep ? { data: Buffer.concat(chunks) } : {}) });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries >= TFTP_WAITS.length) return finish(new Fail('tftp', `${file}: timed out ${expected === 1 ? 'waiting for the first block' : `after block ${expected - 1}`}`));
        report.retransmits.tftp++;
        s.send(last, lastPort, server);
        arm();
      }, TFTP_WAITS[tries]);
    };
    const send = (b: Buffer, port: number) => {
      last = b;
      lastPort = port;
      tries = 0;
      s.send(b, port, server);
      arm();
    };
    s.on('message', (m, r) => {
      if (peerPort && r.port !== peerPort) return;
      let p;
      try {
        p = decodePacket(m);
      } catch {
        return;
      }
      peerPort = r.port;
      if (p.op === Op.ERROR) return finish(new Fail('tftp', `${file}: error ${p.code} ${p.message}`));
      if (p.op === Op.OACK) {
        blksize = Number(p.options.find(([k]) => k.toLowerCase() === 'blksize')?.[1] ?? 512);
        return send(encodeAck(0), r.port);
      }
      if (p.op === Op.DATA) {
        if (p.block === (expected & 0xffff)) {
          bytes += p.data.length;
          if (keep) chunks.push(Buffer.from(p.data));
          expected++;
          if (p.data.length < blksize) {
            // Close only once the final ACK has left: closing right after send() drops it, and
            // the server would then retransmit the last block until it gives up.
            clearTimeout(timer);
            s.send(encodeAck(p.block), r.port, server, () => finish());
            return;
          }
          send(encodeAck(p.block), r.port);
        } else {
          s.send(encodeAck(p.block), r.port, server); // a duplicate: ACK it again, as clients do
        }
      }
    });
    s.on('error', (e) => finish(new Fail('tftp', `${file}: ${e.message}`)));
    s.bind(0, local, () => send(last, 69));
  });
}

function httpGet(local: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 30_000, localAddress: local }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => (n += d.length));
      res.on('end', () => (res.statusCode === 200 && n > 0 ? resolve(n) : reject(new Fail('http', `${url}: ${res.statusCode}, ${n} bytes`))));
      res.on('error', (e) => reject(new Fail('http', e.message)));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => reject(new Fail('http', `${url}: ${e.message}`)));
  });
}

// ---- One client ------------------------------------------------------------------------------
let xidBase = (process.pid << 16) >>> 0;

async function client(macText: string, local: string): Promise<void> {
  const mac = Uint8Array.from(macText.split(':').map((x) => parseInt(x, 16)));
  const xid = (xidBase = (xidBase + 1) >>> 0);
  const offer = await exchange(local, dhcpPacket(MessageType.DISCOVER, local, mac, xid), xid, MessageType.OFFER);
  const serverId = getField(offer.options, F.serverId);
  const ack = await exchange(
    local,
    dhcpPacket(MessageType.REQUEST, local, mac, xid, (p) => {
      setField(p.options, F.requestedIp, offer.yiaddr);
      if (serverId) setField(p.options, F.serverId, serverId);
    }),
    xid,
    MessageType.ACK,
  );
  report.dhcpSeconds = Math.max(report.dhcpSeconds, since());
  const bootfile = ack.file || getField(ack.options, F.bootfile) || offer.file || getField(offer.options, F.bootfile);
  if (!bootfile) throw new Fail('dhcp', 'no boot file in the OFFER/ACK');
  const next = ack.siaddr !== '0.0.0.0' ? ack.siaddr : spec.server;
  const own = ack.yiaddr;
  for (const file of [bootfile, 'ldlinux.c32']) {
    const r = await tftpGet(own, next, file, false);
    if (spec.sizes[file] !== undefined && r.bytes !== spec.sizes[file]) throw new Fail('tftp', `${file}: ${r.bytes} bytes, expected ${spec.sizes[file]}`);
  }
  const cfg = await tftpGet(own, next, `pxelinux.cfg/01-${macText.toLowerCase().replace(/:/g, '-')}`, true);
  const text = cfg.data!.toString('utf8');
  if (!/^DEFAULT /m.test(text)) throw new Fail('tftp', `pxelinux.cfg of ${macText}: no DEFAULT line`);
  report.tftpSeconds = Math.max(report.tftpSeconds, since());
  if (spec.http) {
    const url = /(?:inst\.ks|url)=(http:\/\/\S+)/.exec(text)?.[1];
    if (!url) throw new Fail('http', `pxelinux.cfg of ${macText}: no kickstart URL`);
    await httpGet(own, url);
  }
}

await Promise.all(spec.macs.map(async (mac, i) => {
  try {
    await client(mac, spec.locals[i % spec.locals.length]!);
    report.done++;
  } catch (err) {
    report.failures++;
    const phase = err instanceof Fail ? err.phase : 'other';
    report.failedIn[phase] = (report.failedIn[phase] ?? 0) + 1;
    if (report.errors.length < 8) report.errors.push(`${mac}: ${phase}: ${(err as Error).message}`);
  }
}));
report.seconds = since();
for (const s of relays.values()) s.close();
process.stdout.write(`${JSON.stringify(report)}\n`);
