/**
 * Seeds for the fuzz campaign: bytes real clients sent. DHCP comes from the captures kept in
 * src/dhcp/testdata (dhclient, udhcpc). tftp-hpa, curl and dig are captured at the start of every
 * run: each is pointed at a small recorder socket on 127.0.0.1 (loopback only) that writes down
 * what it receives and answers just enough for the client to go on (a DATA block, a reply with QR
 * set, an HTTP 200), so that the client's follow-up packets (a TFTP ACK) are captured too.
 * iPXE and OVMF would need qemu (the lab, test/lab/): skipped, and said so.
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Seed } from './random.js';

export interface Seeds {
  dhcp: Seed[];
  tftp: Seed[];
  /** TFTP packets a client sends on a transfer port (ACK, ERROR). */
  tftpTransfer: Seed[];
  dnsUdp: Seed[];
  dnsTcp: Seed[];
  http: Seed[];
  /** Sources that could not be captured, with why. */
  skipped: string[];
}

function run(cmd: string, args: string[], timeoutMs = 8000): Promise<{ out: string; err: string; failed: boolean }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, out, errOut) => resolve({ out: String(out), err: String(errOut), failed: !!err }));
  });
}

async function version(cmd: string, args: string[], re: RegExp): Promise<string> {
  const r = await run(cmd, args, 3000);
  const m = re.exec(`${r.out}\n${r.err}`);
  return m ? `${cmd.split('/').pop()} ${m[1]}` : cmd.split('/').pop()!;
}

/** DHCP seeds from src/dhcp/testdata/*.hex. */
export function dhcpSeeds(root: string): Seed[] {
  const dir = join(root, 'src', 'dhcp', 'testdata');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.hex'))
    .sort()
    .map((f) => ({ bytes: Buffer.from(readFileSync(join(dir, f), 'utf8').replace(/\s+/g, ''), 'hex'), origin: `src/dhcp/testdata/${f} (${f.split('-')[0]}, captured earlier)`, what: f.replace(/\.hex$/, '') }));
}

/** A UDP recorder on 127.0.0.1: calls `answer` for each datagram (which may reply). */
async function udpRecorder(onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo, sock: dgram.Socket) => void): Promise<{ port: number; close(): void }> {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => onMessage(m, r, s));
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { port: s.address().port, close: () => s.close() };
}

/** tftp-hpa and curl tftp:// against a recorder: their RRQs and the ACK after a one-block DATA. */
async function captureTftp(seeds: Seeds): Promise<void> {
  const got: { bytes: Buffer; where: 'request' | 'transfer' }[] = [];
  const transfer: dgram.Socket[] = [];
  const rec = await udpRecorder((msg, rinfo) => {
    got.push({ bytes: Buffer.from(msg), where: 'request' });
    // Answer from a new port (a transfer TID) with one short DATA block: the client ACKs it there.
    const t = dgram.createSocket('udp4');
    transfer.push(t);
    t.on('message', (m) => got.push({ bytes: Buffer.from(m), where: 'transfer' }));
    t.on('error', () => undefined);
    t.bind(0, '127.0.0.1', () => t.send(Buffer.from([0, 3, 0, 1, ...Buffer.from('3rc seed\n')]), rinfo.port, rinfo.address));
  });
  const tmp = join(tmpdir(), `3rc-fuzz-seed-${process.pid}`);
  const clients: [string, string[], string][] = [
    ['tftp', ['127.0.0.1', String(rec.port), '-m', 'binary', '-c', 'get', 'pxelinux.0', tmp], 'get pxelinux.0 (octet)'],
    ['tftp', ['127.0.0.1', String(rec.port), '-m', 'netascii', '-c', 'get', 'pxelinux.cfg/01-52-54-00-77-00-10', tmp], 'get pxelinux.cfg/01-<mac> (netascii)'],
    ['curl', ['-sS', '--max-time', '3', '--tftp-blksize', '1468', '-o', tmp, `tftp://127.0.0.1:${rec.port}/ldlinux.c32`], 'tftp:// blksize 1468'],
    ['curl', ['-sS', '--max-time', '3', '-o', tmp, `tftp://127.0.0.1:${rec.port}/debian-installer/12/amd64/linux`], 'tftp:// (tsize, timeout)'],
  ];
  const versions: Record<string, string> = {
    tftp: 'tftp-hpa ' + ((await run('dpkg-query', ['-W', '-f', '${Version}', 'tftp-hpa'], 3000)).out || '?'),
    curl: await version('curl', ['--version'], /^curl (\S+)/m),
  };
  for (const [cmd, args, what] of clients) {
    const before = got.length;
    const r = await run(cmd, args, 8000);
    await new Promise((res) => setTimeout(res, 50));
    const mine = got.slice(before);
    if (mine.length === 0) {
      seeds.skipped.push(`${versions[cmd]} ${what}: nothing captured (${r.err.trim().split('\n')[0] ?? 'no output'})`);
      continue;
    }
    for (const g of mine) {
      const op = g.bytes.readUInt16BE(0);
      const name = op === 1 ? 'RRQ' : op === 4 ? 'ACK' : op === 5 ? 'ERROR' : `op ${op}`;
      (g.where === 'request' ? seeds.tftp : seeds.tftpTransfer).push({ bytes: g.bytes, origin: `${versions[cmd]} (captured at the start of this run)`, what: `${name} ${what}` });
    }
  }
  rec.close();
  for (const t of transfer) t.close();
  rmSync(tmp, { force: true });
}

/** The query with QR set: enough of an answer for dig to stop waiting. */
function echoAnswer(q: Buffer): Buffer {
  const a = Buffer.from(q);
  if (a.length >= 3) a[2] = a[2]! | 0x80;
  return a;
}

/** dig over UDP and TCP against recorders. */
async function captureDns(seeds: Seeds): Promise<void> {
  const udp: Buffer[] = [];
  const rec = await udpRecorder((msg, rinfo, s) => {
    udp.push(Buffer.from(msg));
    s.send(echoAnswer(msg), rinfo.port, rinfo.address);
  });
  const tcp: Buffer[] = [];
  const server = net.createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        tcp.push(Buffer.from(m));
        const a = echoAnswer(m);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(a.length);
        c.write(Buffer.concat([len, a]));
        buf = buf.subarray(2 + m.length);
      }
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(rec.port, '127.0.0.1', r));
  const v = await version('dig', ['-v'], /DiG (\S+)/);
  const queries: [string[], string][] = [
    [['vm10.lab.test', 'A'], 'A vm10.lab.test'],
    [['-x', '10.77.0.10'], 'PTR 10.10.0.77.10.in-addr.arpa'],
    [['vm10.lab.test', 'HINFO'], 'HINFO vm10.lab.test'],
    [['lab.test', 'SOA', '+dnssec'], 'SOA lab.test +dnssec'],
    [['lab.test', 'ANY', '+nsid', '+bufsize=512'], 'ANY lab.test +nsid'],
    [['example.org', 'AAAA', '+noedns'], 'AAAA example.org (outside the zone) +noedns'],
  ];
  for (const tcpToo of [false, true]) {
    for (const [q, what] of queries) {
      const before = tcpToo ? tcp.length : udp.length;
      await run('dig', ['@127.0.0.1', '-p', String(rec.port), '+tries=1', '+time=2', ...(tcpToo ? ['+tcp'] : []), ...q], 6000);
      const list = tcpToo ? tcp : udp;
      for (const b of list.slice(before)) (tcpToo ? seeds.dnsTcp : seeds.dnsUdp).push({ bytes: b, origin: `${v} (captured at the start of this run)`, what: `${what}${tcpToo ? ' +tcp' : ''}` });
    }
  }
  const before = tcp.length;
  await run('dig', ['@127.0.0.1', '-p', String(rec.port), '+tries=1', '+time=2', 'lab.test', 'AXFR'], 6000);
  for (const b of tcp.slice(before)) seeds.dnsTcp.push({ bytes: b, origin: `${v} (captured at the start of this run)`, what: 'AXFR lab.test' });
  rec.close();
  server.close();
  if (seeds.dnsUdp.length === 0) seeds.skipped.push(`${v}: no UDP query captured`);
}

/** curl against a recorder: each request exactly as curl sends it. */
async function captureHttp(seeds: Seeds, apiToken: string): Promise<void> {
  const got: Buffer[] = [];
  const server = net.createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /content-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString('latin1'));
      if (buf.length < end + 4 + (m ? Number(m[1]) : 0)) return;
      got.push(buf);
      buf = Buffer.alloc(0);
      c.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const v = await version('curl', ['--version'], /^curl (\S+)/m);
  const auth = ['-H', `Authorization: Bearer ${apiToken}`];
  const json = ['-H', 'Content-Type: application/json'];
  const requests: [string[], string][] = [
    [[`${base}/api/v1/health`], 'GET /api/v1/health'],
    [[`${base}/ks/52-54-00-77-00-10?token=0123456789abcdef`], 'GET /ks/MAC?token='],
    [[`${base}/boot/ipxe/52-54-00-77-00-10`], 'GET /boot/ipxe/MAC'],
    [['-r', '0-99', `${base}/boot/files/pxelinux.0`], 'GET /boot/files with Range'],
    [['--data-binary', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOxrW6uWt7ynVsFpKHnGvIcM9fLJH0d3xX2Uy6nGo0Vb', `${base}/install/52-54-00-77-00-10/done?token=0123456789abcdef`], 'POST /install/MAC/done with host keys'],
    [['--data-binary', 'installer log\nE: no disk found\n', `${base}/install/52-54-00-77-00-10/failed?token=0123456789abcdef`], 'POST /install/MAC/failed with a log'],
    [['-X', 'PUT', ...auth, ...json, '-d', '{"mode":"install","profile":"debian12","reason":"fuzz"}', `${base}/api/v1/hosts/fz1/boot`], 'PUT /api/v1/hosts/NAME/boot (token)'],
    [['-X', 'POST', ...auth, ...json, '-d', '{"name":"fz2","mac":"52:54:00:77:00:f2","ip":"10.77.0.242","profile":"debian12","role":"services"}', `${base}/api/v1/hosts`], 'POST /api/v1/hosts (token)'],
    [['-X', 'PUT', ...auth, ...json, '-d', '{"name":"fz1","mac":"52:54:00:77:00:f1","ip":"10.77.0.241","profile":"rocky9"}', `${base}/api/v1/hosts/fz1`], 'PUT /api/v1/hosts/NAME (token)'],
    [['-X', 'DELETE', ...auth, `${base}/api/v1/hosts/fz2`], 'DELETE /api/v1/hosts/NAME (token)'],
    [['-X', 'POST', ...auth, ...json, '-d', '{"to":"hv1","cpus":2}', `${base}/api/v1/hosts/fz1/p2v`], 'POST /api/v1/hosts/NAME/p2v (token)'],
    [[...auth, `${base}/api/v1/hosts/fz1/render?profile=debian12`], 'GET /api/v1/hosts/NAME/render (token)'],
    [[`${base}/api/v1/hosts/vm10/events?limit=5`], 'GET /api/v1/hosts/NAME/events'],
    [[`${base}/api/v1/timeline/vm10?from=now-6h&to=now`], 'GET /api/v1/timeline/NAME'],
    [['--data-binary', 'cpus 2\nmemory_kb 2097152\nfirmware bios\nnic eth0 52:54:00:77:00:f1\ndisk vda 1073741824\n', `${base}/p2v/52-54-00-77-00-f1/hardware?token=0123456789abcdef`], 'POST /p2v/MAC/hardware'],
    [['-H', 'X-3rc-Sha256: 00', '--data-binary', 'not gzip', `${base}/p2v/52-54-00-77-00-f1/disks/vda/chunks/0?token=0123456789abcdef`], 'POST /p2v/MAC/disks/DISK/chunks/I'],
    [['-H', 'Last-Event-ID: 1', `${base}/api/v1/overview`], 'GET /api/v1/overview'],
    [[`${base}/`], 'GET / (dashboard)'],
  ];
  for (const [args, what] of requests) {
    const before = got.length;
    const r = await run('curl', ['-sS', '--max-time', '3', '-o', '/dev/null', ...args], 6000);
    for (const b of got.slice(before)) seeds.http.push({ bytes: b, origin: `${v} (captured at the start of this run)`, what });
    if (got.length === before) seeds.skipped.push(`${v} ${what}: nothing captured (${r.err.trim()})`);
  }
  server.close();
}

/** Every seed: files, then the live captures. */
export async function collectSeeds(root: string, apiToken: string): Promise<Seeds> {
  const seeds: Seeds = { dhcp: dhcpSeeds(root), tftp: [], tftpTransfer: [], dnsUdp: [], dnsTcp: [], http: [], skipped: [] };
  seeds.skipped.push('iPXE and OVMF DHCP/TFTP/HTTP captures: they need qemu VMs (the lab, test/lab/), which the fuzz campaign does not start; their packets are covered by the structure-aware generators only');
  await captureTftp(seeds);
  await captureDns(seeds);
  await captureHttp(seeds, apiToken);
  return seeds;
}

/** One line per origin and count, for the campaign's output. */
export function describeSeeds(s: Seeds): string[] {
  const lines: string[] = [];
  const groups: [string, Seed[]][] = [['dhcp', s.dhcp], ['tftp request port', s.tftp], ['tftp transfer port', s.tftpTransfer], ['dns udp', s.dnsUdp], ['dns tcp', s.dnsTcp], ['http', s.http]];
  for (const [name, list] of groups) {
    const by = new Map<string, string[]>();
    for (const x of list) by.set(x.origin, [...(by.get(x.origin) ?? []), x.what]);
    if (by.size === 0) lines.push(`  ${name}: none (random and structure-aware packets only)`);
    for (const [origin, whats] of by) lines.push(`  ${name}: ${whats.length} from ${origin}: ${[...new Set(whats)].join('; ')}`);
  }
  for (const why of s.skipped) lines.push(`  skipped: ${why}`);
  return lines;
}
