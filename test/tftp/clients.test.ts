/**
 * 3rc's TFTP server against real clients (curl, tftp-hpa, atftp) and a raw client, on loopback,
 * through the real `3rc serve` child. Tests bound themselves with timeouts and never assert
 * wall-clock times.
 */
import assert from 'node:assert/strict';
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { encodeAck, encodeError, encodeRequest, Op } from '../../src/tftp/packet.js';
import { cli, labWithLoopbackHost, LO_MAC, serve, type LabConfig, type Served } from '../lib/serve.js';
import { LossyProxy } from './lossy-proxy.js';
import { RawClient } from './raw-client.js';
import { rawUdpUnavailable, sendRawUdp } from './raw-udp.js';

const execFile = promisify(execFileCb);

let lab: LabConfig;
let srv: Served;
let port: number;
let boot: string;
let out: string;
/** UDP sockets of the idle server (its listeners). */
let idleSockets: number;
const files: Record<string, Buffer> = {
  'small.bin': randomBytes(1000),
  'exact.bin': randomBytes(512 * 4),
  'empty.bin': Buffer.alloc(0),
  'big.bin': randomBytes(3 * 1024 * 1024 + 77),
  'sub/nested.bin': randomBytes(3000),
};
const text = 'first line\nsecond line\r\nbare CR\rend\n';
/** Several blocks of text whose CR LF and CR NUL pairs straddle the 512-byte block ends. */
const longText = Array.from({ length: 40 }, (_, i) => `${'x'.repeat(505 + (i % 9))}${i % 3 === 0 ? '\r' : '\n'}${i % 4 === 0 ? '\n' : ''}`).join('');

before(async () => {
  // lo5 (127.0.0.5) is a host on loopback, so that "from the host's own address" can be tested.
  // maxTransfers 16: small enough for one test to fill it.
  lab = await labWithLoopbackHost({ servers: { tftp: { timeout: '150ms', retries: 8, maxTransfers: 16 } } });
  boot = join(lab.dir, 'boot');
  out = join(lab.dir, 'out');
  mkdirSync(join(boot, 'sub'), { recursive: true });
  mkdirSync(out);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(boot, name), data);
  writeFileSync(join(boot, 'text.txt'), text);
  writeFileSync(join(boot, 'long.txt'), longText);
  writeFileSync(join(lab.dir, 'secret.txt'), 'outside the root');
  symlinkSync(join(lab.dir, 'secret.txt'), join(boot, 'link-out'));
  srv = await serve(lab);
  port = lab.ports.tftp;
  idleSockets = udpSockets();
});

after(async () => {
  await srv?.stop();
  lab?.cleanup();
});

/** UDP sockets the serve child holds (ss -uanp): the request port plus one per live transfer. */
function udpSockets(): number {
  const ss = execFileSync('ss', ['-uanp'], { encoding: 'utf8' });
  return ss.split('\n').filter((l) => l.includes(`pid=${srv.proc.pid},`)).length;
}

async function waitFor(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) {
      const ss = execFileSync('ss', ['-uanp'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`pid=${srv.proc.pid},`));
      throw new Error(`timed out waiting for ${what} (server UDP sockets: ${ss.join(' | ')}; idle: ${idleSockets})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function curl(file: string, args: string[] = []): Promise<Buffer> {
  const dest = join(out, `curl-${Math.random().toString(36).slice(2)}`);
  await execFile('curl', ['-sS', '--max-time', '30', ...args, '-o', dest, `tftp://127.0.0.1:${port}/${file}`], { timeout: 40_000 });
  return readFileSync(dest);
}

test('curl: whole files byte-identical at blksize 512 and 1468', async () => {
  for (const [name, data] of Object.entries(files)) {
    // curl (7.88) cannot fetch an empty file from any server (exit 71, tftpd-hpa too): tftp-hpa does it below.
    if (data.length === 0) continue;
    assert.ok((await curl(name)).equals(data), `${name} at 512`);
    assert.ok((await curl(name, ['--tftp-blksize', '1468'])).equals(data), `${name} at 1468`);
  }
});

test('tftp-hpa: octet (empty, exact multiple, big), and netascii (mode ascii) translated and back', async () => {
  for (const name of ['empty.bin', 'exact.bin', 'big.bin']) {
    const dest = join(out, `hpa-${name}`);
    await execFile('tftp', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', name, dest], { timeout: 40_000 });
    assert.ok(readFileSync(dest).equals(files[name]!), name);
  }
  const ascii = join(out, 'hpa-text');
  await execFile('tftp', ['127.0.0.1', String(port), '-m', 'ascii', '-c', 'get', 'text.txt', ascii], { timeout: 20_000 });
  assert.equal(readFileSync(ascii, 'utf8'), text, 'tftp-hpa undoes CR LF and CR NUL: the file comes back as it is on disk');
  // On the wire: CR LF for LF, CR NUL for CR, and tsize is the translated size.
  const c = await RawClient.open();
  try {
    c.rrq(port, 'text.txt', [['tsize', '0']], 'NetASCII');
    const oack = await c.next();
    assert.deepEqual(oack.packet, { op: Op.OACK, options: [['tsize', String(Buffer.byteLength(text) + 5)]] });
    const wire = await c.receive(oack, 512);
    assert.equal(wire.toString('latin1'), 'first line\r\nsecond line\r\0\r\nbare CR\r\0end\r\n');
  } finally {
    await c.close();
  }
});

test('netascii over many blocks, pairs split across block ends: tftp-hpa gets the file back, the wire is the translation', async () => {
  const ascii = join(out, 'hpa-long');
  await execFile('tftp', ['127.0.0.1', String(port), '-m', 'ascii', '-c', 'get', 'long.txt', ascii], { timeout: 20_000 });
  assert.equal(readFileSync(ascii, 'latin1'), longText);
  const wireText = longText.replace(/\r/g, '\r\0').replace(/\n/g, '\r\n');
  const c = await RawClient.open();
  try {
    c.rrq(port, 'long.txt', [['tsize', '0']], 'netascii');
    const oack = await c.next();
    assert.deepEqual(oack.packet, { op: Op.OACK, options: [['tsize', String(wireText.length)]] });
    assert.equal((await c.receive(oack, 512)).toString('latin1'), wireText);
  } finally {
    await c.close();
  }
});

test('atftp with windowsize 16: negotiated as asked, file identical', async () => {
  const dest = join(out, 'atftp-big');
  const { stdout, stderr } = await execFile(
    'atftp',
    ['--option', 'windowsize 16', '--option', 'blksize 1024', '--option', 'tsize 0', '--trace', '--verbose', '-g', '-r', 'big.bin', '-l', dest, '127.0.0.1', String(port)],
    { timeout: 40_000, maxBuffer: 64 << 20 },
  );
  const oack = `${stdout}${stderr}`.split('\n').find((l) => l.startsWith('received OACK'));
  assert.ok(oack, 'atftp reports the OACK');
  assert.match(oack, /windowsize: 16/);
  assert.match(oack, /blksize: 1024/);
  assert.match(oack, new RegExp(`tsize: ${files['big.bin']!.length}`));
  assert.ok(readFileSync(dest).equals(files['big.bin']!));
});

test('raw client: OACK clamps blksize and windowsize, echoes spelling, ignores unknown options', async () => {
  const c = await RawClient.open();
  try {
    c.rrq(port, 'small.bin', [['BLKSIZE', '9000'], ['TSize', '0'], ['windowsize', '1000'], ['x-unknown', '1'], ['timeout', '2']]);
    const r = await c.next();
    assert.notEqual(r.port, port, 'the transfer answers from its own port');
    assert.deepEqual(r.packet, { op: Op.OACK, options: [['BLKSIZE', '1468'], ['TSize', '1000'], ['windowsize', '64'], ['timeout', '2']] });
    c.send(encodeAck(0), r.port);
    const d = await c.next();
    assert.ok(d.packet.op === Op.DATA && d.packet.block === 1 && d.packet.data.equals(files['small.bin']!));
    c.send(encodeAck(1), r.port);
  } finally {
    await c.close();
  }
});

async function errorFor(file: string, op: 1 | 2 = Op.RRQ): Promise<{ code: number; message: string }> {
  const c = await RawClient.open();
  try {
    c.send(encodeRequest(op, file, 'octet'), port);
    const r = await c.next();
    if (r.packet.op !== Op.ERROR) throw new Error(`expected an ERROR for ${file}, got ${JSON.stringify(r.packet)}`);
    return { code: r.packet.code, message: r.packet.message };
  } finally {
    await c.close();
  }
}

test('traversal refused: .., //abs, backslash, symlink out; /etc/passwd is <root>/etc/passwd (not found)', async () => {
  assert.equal((await errorFor('../etc/passwd')).code, 2);
  assert.equal((await errorFor('sub/../../secret.txt')).code, 2);
  assert.equal((await errorFor('//etc/passwd')).code, 2);
  assert.equal((await errorFor('..\\secret.txt')).code, 2);
  assert.equal((await errorFor('link-out')).code, 2);
  assert.equal((await errorFor('/etc/passwd')).code, 1);
  // Clients see the refusal too.
  await assert.rejects(curl('../etc/passwd'));
  await assert.rejects(curl('link-out'));
  const hpa = await execFile('tftp', ['127.0.0.1', String(port), '-c', 'get', '../etc/passwd', join(out, 'x')], { timeout: 20_000 }).catch((e: { stdout: string; stderr: string }) => e);
  assert.match(`${hpa.stdout}${hpa.stderr}`, /Error code 2/);
  // One leading slash is stripped, as firmware sends it.
  assert.ok((await curl('/sub/nested.bin')).equals(files['sub/nested.bin']!));
  await waitFor('a log line for the symlink refusal', () => srv.lines.some((l) => l.includes('"reason":"outside-root"')));
});

test('write requests refused with error 2', async () => {
  const e = await errorFor('upload.bin', Op.WRQ);
  assert.equal(e.code, 2);
  assert.match(e.message, /read-only/);
  writeFileSync(join(out, 'up.txt'), 'x');
  const hpa = await execFile('tftp', ['127.0.0.1', String(port), '-c', 'put', join(out, 'up.txt'), 'up.txt'], { timeout: 20_000 }).catch((err: { stdout: string; stderr: string }) => err);
  assert.match(`${hpa.stdout}${hpa.stderr}`, /Error code 2/);
});

test('lossy network (drops and duplicates both ways): curl still gets the exact file', async () => {
  const proxy = new LossyProxy(port, 11, 4);
  const p = await proxy.start();
  try {
    const data = files['big.bin']!.subarray(0, 60_000);
    writeFileSync(join(boot, 'lossy.bin'), data);
    const dest = join(out, 'lossy');
    // --tftp-no-options: curl would otherwise ask for timeout 5 s (RFC 2349), which 3rc honours,
    // and every loss would cost 5 s; without options 3rc's own 150 ms timer drives recovery.
    await execFile('curl', ['-sS', '--max-time', '60', '--tftp-no-options', '-o', dest, `tftp://127.0.0.1:${p}/lossy.bin`], { timeout: 70_000 });
    assert.ok(readFileSync(dest).equals(data));
    assert.ok(proxy.stats.dropped > 5 && proxy.stats.duplicated > 5, `the proxy did mistreat packets: ${JSON.stringify(proxy.stats)}`);
  } finally {
    await proxy.close();
  }
});

test('raw client dropping its own ACKs: the server retransmits and the file arrives exactly', async () => {
  const c = await RawClient.open();
  try {
    c.rrq(port, 'exact.bin', [['blksize', '512']]);
    const first = await c.next();
    let dropped = 0;
    // Withhold every 2nd ACK once: the server's timer resends the DATA, which we then ACK.
    const seen = new Set<number>();
    const parts: Buffer[] = [];
    let r = first;
    c.send(encodeAck(0), r.port);
    for (;;) {
      r = await c.next();
      if (r.packet.op !== Op.DATA) continue;
      const b = r.packet.block;
      if (b % 2 === 0 && !seen.has(b)) {
        seen.add(b);
        dropped++;
        if (parts.length === b - 1) parts.push(Buffer.from(r.packet.data));
        continue;
      }
      if (parts.length === b - 1) parts.push(Buffer.from(r.packet.data));
      c.send(encodeAck(b), r.port);
      if (r.packet.data.length < 512) break;
    }
    assert.ok(dropped >= 2);
    assert.ok(Buffer.concat(parts).equals(files['exact.bin']!));
  } finally {
    await c.close();
  }
});

test('stray 0-byte, 1-byte and garbage datagrams to a live transfer port: error 5 to strangers, transfer and server unharmed', async () => {
  const c = await RawClient.open();
  const stranger = await RawClient.open();
  try {
    c.rrq(port, 'big.bin', [['blksize', '1024']]);
    const oack = await c.next();
    const tid = oack.port;
    // From another port: each gets error 5 (the empty one too).
    for (const junk of [Buffer.alloc(0), Buffer.from([1]), randomBytes(300), encodeAck(1)]) stranger.send(junk, tid);
    for (let i = 0; i < 4; i++) {
      const e = await stranger.next();
      assert.deepEqual(e.packet, { op: Op.ERROR, code: 5, message: 'Unknown transfer ID' });
      assert.equal(e.port, tid);
    }
    // From the client's own port: junk is ignored.
    for (const junk of [Buffer.alloc(0), Buffer.from([4]), Buffer.from('garbage!'), Buffer.from([0, 9, 1, 2])]) c.send(junk, tid);
    // Junk to the request port too.
    for (const junk of [Buffer.alloc(0), Buffer.from([1]), randomBytes(100)]) stranger.send(junk, port);
    const got = await c.receive(oack, 1024);
    assert.ok(got.equals(files['big.bin']!));
    assert.ok((await curl('small.bin')).equals(files['small.bin']!), 'the server still serves');
  } finally {
    await c.close();
    await stranger.close();
  }
});

test('tsize probe then error 8 then RRQ again (also when the RRQ overtakes the error): works, leaks nothing', async () => {
  await waitFor('earlier transfers closed', () => udpSockets() === idleSockets);
  const baseline = idleSockets;
  const c = await RawClient.open();
  try {
    // The firmware pattern: RRQ with tsize, OACK, error 8, then the real RRQ from the same port.
    c.rrq(port, 'small.bin', [['tsize', '0'], ['blksize', '1456']]);
    const probe = await c.next();
    assert.deepEqual(probe.packet, { op: Op.OACK, options: [['tsize', '1000'], ['blksize', '1456']] });
    c.send(encodeError(8, 'tsize probe done'), probe.port);
    c.rrq(port, 'small.bin', [['blksize', '1456']]);
    const real = await c.next();
    assert.ok((await c.receive(real, 1456)).equals(files['small.bin']!));
    // The race: an identical RRQ sent before the error 8 reaches the old transfer.
    c.rrq(port, 'exact.bin', [['tsize', '0']]);
    const p2 = await c.next();
    c.rrq(port, 'exact.bin', [['tsize', '0']]);
    c.send(encodeError(8, 'abort'), p2.port);
    const again = await c.next();
    assert.notEqual(again.port, p2.port, 'a new transfer answers the repeated request');
    assert.ok((await c.receive(again, 512)).equals(files['exact.bin']!));
  } finally {
    await c.close();
  }
  await waitFor('every transfer socket closed', () => udpSockets() === baseline);
  await waitFor('the aborted probe in the log', () => srv.lines.some((l) => l.includes('"outcome":"option-refused"')));
});

test('a transfer with no progress is reaped and its socket closed', async () => {
  await waitFor('earlier transfers closed', () => udpSockets() === idleSockets);
  const baseline = idleSockets;
  const c = await RawClient.open();
  try {
    c.rrq(port, 'small.bin');
    const d = await c.next();
    assert.equal(d.packet.op, Op.DATA);
    // ACK block 1 (a peer that never ACKs anything gets one retransmission only), then stop:
    // retransmissions of block 2 (timeout 150ms, back-off, 8 retries), then it is reaped.
    c.send(encodeAck(1), d.port);
    await waitFor('the transfer sockets', () => udpSockets() > baseline);
    await waitFor('the transfer reaped', () => udpSockets() === baseline, 20_000);
    const resent = (await c.drain(10)).filter((r) => r.packet.op === Op.DATA && r.packet.block === 2).length - 1;
    assert.ok(resent >= 1 && resent <= 8, `at most 8 retransmissions (got ${resent})`);
    assert.ok(srv.lines.some((l) => l.includes('"outcome":"timeout"') && l.includes('no progress after 8 retransmission')));
  } finally {
    await c.close();
  }
});

test('pxelinux.cfg/01-<mac> follows a boot flip on the very next request; the install entry (its token) only to the host\'s own IP', async () => {
  const name = 'pxelinux.cfg/01-52-54-00-77-00-10';
  const before = (await curl(name)).toString();
  assert.match(before, /LOCALBOOT 0/, 'a local entry holds no secret: served to anyone');
  assert.doesNotMatch(before, /KERNEL/);
  const flip = await cli(['boot', 'vm10', '--install', '--config', lab.file]);
  assert.equal(flip.code, 0, flip.stderr);
  // vm10 is 10.77.0.10: from 127.0.0.1 its install entry is "not found", for curl and tftp-hpa alike.
  // curl exits 68 (CURLE_TFTP_NOTFOUND) and prints a misleading getpeername() message.
  await assert.rejects(curl(name), (e: { code?: number }) => e.code === 68);
  const hpa = await execFile('tftp', ['127.0.0.1', String(port), '-c', 'get', name, join(out, 'vm10-cfg')], { timeout: 20_000 }).catch((e: { stdout: string; stderr: string }) => e);
  assert.match(`${hpa.stdout}${hpa.stderr}`, /Error code 1/);
  await waitFor('the refusal logged', () => srv.lines.some((l) => l.includes('"reason":"not-owner"') && l.includes('52:54:00:77:00:10')));
  // lo5 (127.0.0.5) flipped: it gets its own install entry, token included; 127.0.0.1 does not.
  const loName = `pxelinux.cfg/01-${LO_MAC}`;
  const loFlip = await cli(['boot', 'lo5', '--install', '--config', lab.file]);
  assert.equal(loFlip.code, 0, loFlip.stderr);
  const owner = await RawClient.open('127.0.0.5');
  let afterFlip: string;
  try {
    owner.rrq(port, loName);
    afterFlip = (await owner.receive(await owner.next(), 512)).toString();
  } finally {
    await owner.close();
  }
  assert.match(afterFlip, /^DEFAULT install$/m);
  assert.match(afterFlip, /KERNEL debian-installer\/12\/amd64\/linux/);
  assert.match(afterFlip, /APPEND .*url=http:\/\/10\.77\.0\.1(:\d+)?\/ks\/52-54-00-77-00-55\?token=[0-9a-f]{32} hostname=lo5 domain=lab\.test/);
  await assert.rejects(curl(loName), (e: { code?: number }) => e.code === 68);
  // Unknown MACs, UUIDs and hex IPs: not found at once; default: local boot.
  assert.equal((await errorFor('pxelinux.cfg/01-aa-bb-cc-dd-ee-ff')).code, 1);
  assert.equal((await errorFor('pxelinux.cfg/0A4D000A')).code, 1);
  assert.equal((await errorFor('pxelinux.cfg/b8945908-d6a6-41a9-611d-74a6ab80b83d')).code, 1);
  assert.match((await curl('pxelinux.cfg/default')).toString(), /DEFAULT local/);
  // The boot trace has the transfers of vm10's config, with their details.
  const events = await waitForEvents();
  const e = events.find((x) => x.data?.file === name && x.data?.outcome === 'complete');
  assert.ok(e, 'a tftp.transfer event for the config');
  assert.equal(e.mac, '52:54:00:77:00:10');
  assert.equal(e.host, 'vm10');
  assert.equal(e.data.blksize, 512);
  assert.equal(e.data.windowsize, 1);
  assert.equal(typeof e.data.size, 'number');
  const refused = events.find((x) => x.data?.file === name && x.data?.outcome === 'refused');
  assert.equal(refused?.data.reason, 'not-owner', 'the refusal is in vm10\'s trace');
});

test('datagrams from source port 0 (raw socket): WRQ, RRQ and junk to a transfer port are dropped, counted, and 3rc lives', { skip: rawUdpUnavailable() }, async () => {
  const c = await RawClient.open();
  try {
    c.rrq(port, 'exact.bin', [['tsize', '0']]);
    const oack = await c.next();
    // ACK the OACK at once: a peer that never answers is dropped after one retransmission (150 ms here).
    c.send(encodeAck(0), oack.port);
    const first = await c.next();
    const from = { address: '127.0.0.1', port: 0 };
    sendRawUdp([
      { from, to: { address: '127.0.0.1', port: oack.port }, payload: encodeAck(1) },
      { from, to: { address: '127.0.0.1', port }, payload: encodeRequest(Op.WRQ, 'upload.bin', 'octet') },
      { from, to: { address: '127.0.0.1', port }, payload: encodeRequest(Op.RRQ, 'small.bin', 'octet') },
    ]);
    const dropped = /threerc_packets_dropped_total\{server="tftp",reason="port-0"\} 3\b/;
    let metric = '';
    for (let i = 0; i < 100 && !dropped.test(metric); i++) {
      await new Promise((r) => setTimeout(r, 50));
      metric = await (await fetch(`${srv.url}/metrics`)).text();
    }
    assert.match(metric, dropped, 'three datagrams from port 0 dropped and counted');
    assert.equal(srv.proc.exitCode, null, 'the process is alive');
    // The transfer under way is untouched, and the server serves.
    assert.ok((await c.receive(first, 512)).equals(files['exact.bin']!));
    assert.ok((await curl('small.bin')).equals(files['small.bin']!));
  } finally {
    await c.close();
  }
});

test('abandoned RRQs (timeout 255) from one address take at most its share: another address is still served', async () => {
  await waitFor('earlier transfers closed', () => udpSockets() === idleSockets);
  const hog = await Promise.all(Array.from({ length: 16 }, () => RawClient.open('127.0.0.1')));
  const other = await RawClient.open('127.0.0.2');
  const tids: Array<[RawClient, number]> = [];
  try {
    let busy = 0;
    for (const h of hog) {
      h.rrq(port, 'big.bin', [['timeout', '255']]);
      const r = await h.next();
      if (r.packet.op === Op.OACK) tids.push([h, r.port]);
      else if (r.packet.op === Op.ERROR && r.packet.code === 0 && /from your address/.test(r.packet.message)) busy++;
    }
    assert.equal(tids.length, 8, 'servers.tftp.maxTransfersPerClient (default 8) transfers from one address');
    assert.equal(busy, 8);
    other.rrq(port, 'small.bin');
    const r = await other.next();
    assert.ok(r.packet.op === Op.DATA, `another address is served, not told "busy": ${JSON.stringify(r.packet)}`);
    assert.ok((await other.receive(r, 512)).equals(files['small.bin']!));
  } finally {
    // End the hog's transfers (they would wait out timeout 255 s otherwise).
    for (const [h, tid] of tids) h.send(encodeError(0, 'done'), tid);
    for (const h of hog) await h.close();
    await other.close();
  }
  await waitFor('the hog\'s transfers ended', () => udpSockets() === idleSockets);
});


interface Ev { kind: string; mac: string | null; host: string | null; data: Record<string, unknown> }
async function waitForEvents(): Promise<Ev[]> {
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${srv.url}/api/v1/hosts/vm10/events`);
    const body = (await res.json()) as { events?: Ev[] } | Ev[];
    const events = (Array.isArray(body) ? body : body.events ?? []).filter((x) => x.kind === 'tftp.transfer');
    if (events.length >= 2) return events;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no tftp.transfer events for vm10');
}

test('the server survived everything: still serving, process alive', async () => {
  assert.equal(srv.proc.exitCode, null);
  assert.ok((await curl('exact.bin', ['--tftp-blksize', '1468'])).equals(files['exact.bin']!));
  // A datagram socket that is not ours cannot disturb the request port either.
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.send(Buffer.alloc(0), port, '127.0.0.1', () => r()));
  s.close();
  assert.ok((await curl('small.bin')).equals(files['small.bin']!));
});
