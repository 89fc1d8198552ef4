import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type dgram from 'node:dgram';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { bootSources } from '../boot/booter.js';
import { parseConfig } from '../config/load.js';
import { Inventory } from '../inventory/inventory.js';
import { memoryTrace } from '../inventory/trace.js';
import { FakeClock, systemClock, type Clock } from '../lib/clock.js';
import { PacketGuard } from '../lib/guard.js';
import { createLogger, silentLogger } from '../lib/log.js';
import { packageRoot } from '../lib/paths.js';
import { tftpConfigFiles } from '../render/boot-configs.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { RawClient } from '../../test/tftp/raw-client.js';
import { encodeAck, encodeRequest, Op } from './packet.js';
import { TftpServer, workerCount } from './server.js';

test('maxTransfers: requests over the bound get error 0 "server busy", recorded; the bound frees up', async () => {
  const dir = mkdtempSync(join(tmpdir(), '3rc-tftp-server-'));
  writeFileSync(join(dir, 'f'), Buffer.alloc(2000, 7));
  const file = join(packageRoot(), 'examples', 'lab.yaml');
  const config = parseConfig(readFileSync(file, 'utf8'), file);
  config.paths.boot = dir;
  config.servers.tftp = { ...config.servers.tftp, listen: '127.0.0.1', port: 0, maxTransfers: 2, timeout: 5000 };
  const trace = memoryTrace();
  // The server records a transfer's outcome once it has released its slot: the test waits for that
  // record, not for a while.
  const record = trace.record;
  const completed = new Promise<void>((resolve) => {
    trace.record = (e) => {
      record(e);
      if (e.kind === 'tftp.transfer' && e.reason === 'complete') resolve();
    };
  });
  const server = new TftpServer({ config, inventory: Inventory.fromConfig(config), virtualFiles: { generated: () => null, fallback: () => null }, trace, clock: systemClock, log: silentLogger });
  await server.start();
  const port = Number(server.addresses()[0]!.split(':')[1]!.split('/')[0]);
  const clients = await Promise.all([RawClient.open(), RawClient.open(), RawClient.open()]);
  try {
    clients[0]!.rrq(port, 'f');
    clients[1]!.rrq(port, 'f');
    const first = await clients[0]!.next();
    await clients[1]!.next();
    assert.equal(server.active, 2);
    clients[2]!.rrq(port, 'f');
    const busy = await clients[2]!.next();
    assert.ok(busy.packet.op === Op.ERROR && busy.packet.code === 0 && /server busy/.test(busy.packet.message));
    assert.ok(trace.events.some((e) => e.kind === 'tftp.transfer' && e.reason === 'busy'));
    // Finish the first transfer: a slot frees and the third client gets served.
    let r = first;
    for (;;) {
      if (r.packet.op !== Op.DATA) throw new Error('expected DATA');
      clients[0]!.send(encodeAck(r.packet.block), r.port);
      if (r.packet.data.length < 512) break;
      r = await clients[0]!.next();
    }
    // 10 s: a bound against a hang (the finally below must still run), not a timing requirement.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([completed, new Promise((_, reject) => (bound = setTimeout(() => reject(new Error('the first transfer never completed')), 10_000)))]);
    clearTimeout(bound);
    assert.equal(server.active, 1);
    clients[2]!.rrq(port, 'f');
    assert.equal((await clients[2]!.next()).packet.op, Op.DATA);
    const done = trace.events.find((e) => e.reason === 'complete');
    assert.ok(done);
    assert.equal(done.data?.size, 2000);
    assert.equal(done.data?.blksize, 512);
  } finally {
    await server.stop();
    assert.equal(server.active, 0, 'stop() ends every transfer');
    for (const c of clients) await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- hostile and broken clients ----------------------------------------------------------

const LO5 = '52:54:00:77:00:55';
const VM10 = '52:54:00:77:00:10';
const VM11 = '52:54:00:77:00:11';
const cfgName = (mac: string) => `pxelinux.cfg/01-${mac.replace(/:/g, '-')}`;

interface Started {
  server: TftpServer;
  port: number;
  trace: ReturnType<typeof memoryTrace>;
  guard: PacketGuard;
  lines: string[];
  dir: string;
  close(): Promise<void>;
}

/**
 * A server on 127.0.0.1 for lab.yaml plus a host lo5 on 127.0.0.5 (so that "from the host's own
 * address" can be tested on loopback), with its own guard, a debug log kept in `lines`, boot
 * files written to a temporary root, and boot entries from `entries`.
 */
async function startServer(opts: { tftp?: Record<string, unknown>; clock?: Clock; entries?: Map<string, BootEntry>; files?: Record<string, Buffer> } = {}): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), '3rc-tftp-server-'));
  for (const [name, data] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), data);
  const file = join(packageRoot(), 'examples', 'lab.yaml');
  const data = parse(readFileSync(file, 'utf8')) as { network: { subnets: unknown[] }; hosts: unknown[] };
  data.network.subnets.push({ cidr: '127.0.0.0/24' });
  data.hosts.push({ name: 'lo5', mac: LO5, ip: '127.0.0.5', profile: 'debian12', role: 'services' });
  const config = parseConfig(stringify(data), file);
  config.paths.boot = dir;
  // A fake clock does not reach a worker thread: the fake-clock tests run transfers in this thread.
  config.servers.tftp = { ...config.servers.tftp, listen: '127.0.0.1', port: 0, ...(opts.clock ? { workers: 0 } : {}), ...opts.tftp };
  const trace = memoryTrace();
  const guard = new PacketGuard();
  const lines: string[] = [];
  const log = createLogger('debug', { write: (s: string) => void lines.push(s) });
  const entries = opts.entries ?? new Map<string, BootEntry>();
  const inventory = Inventory.fromConfig(config);
  // The real generated files (what main.ts gives the server): the owner rule is tested end to end.
  const virtualFiles = tftpConfigFiles(bootSources(config, inventory, { get: (m) => entries.get(m) }), config.paths.templates);
  // No jitter: the fake-clock tests count timeouts exactly.
  const server = new TftpServer({ config, inventory, virtualFiles, trace, clock: opts.clock ?? systemClock, log, guard, random: () => 0 });
  await server.start();
  const port = Number(server.addresses()[0]!.split(':')[1]!.split('/')[0]);
  return {
    server, port, trace, guard, lines, dir,
    close: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls (real time) until pred holds; the assertions that follow never depend on how long it took. */
async function until(what: string, pred: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(pred(), `timed out waiting for ${what}`);
}

test('the install entry (it holds the token) goes only to its host\'s reserved IP; others: not found, traced, logged', async () => {
  const entries = new Map<string, BootEntry>([
    [LO5, { mac: LO5, mode: 'install', profile: 'debian12', token: 'tok-lo5-secret', since: 0 }],
    [VM10, { mac: VM10, mode: 'install', profile: 'debian12', token: 'tok-vm10-secret', since: 0 }],
    [VM11, { mac: VM11, mode: 'local', profile: 'debian12', token: null, since: 0 }],
  ]);
  const s = await startServer({ entries });
  const stranger = await RawClient.open('127.0.0.1');
  const owner = await RawClient.open('127.0.0.5');
  try {
    for (const [mac, spelled] of [[LO5, cfgName(LO5)], [LO5, `efi64/${cfgName(LO5).toUpperCase().replace('PXELINUX.CFG', 'pxelinux.cfg')}`], [VM10, cfgName(VM10)]] as const) {
      for (const options of [[], [['tsize', '0']]] as Array<Array<[string, string]>>) {
        stranger.rrq(s.port, spelled, options);
        const r = await stranger.next();
        assert.deepEqual(r.packet, { op: Op.ERROR, code: 1, message: 'File not found' }, `${spelled} refused to a stranger`);
        assert.equal(r.port, s.port, 'answered from the request port: no transfer was opened');
      }
      const e = s.trace.events.filter((x) => x.mac === mac && x.data?.reason === 'not-owner');
      assert.ok(e.length >= 2, `traced for ${mac}`);
      assert.equal(e[0]!.reason, 'refused');
    }
    assert.ok(s.lines.some((l) => l.includes('"reason":"not-owner"') && l.includes('"level":40') && l.includes('"owner":"127.0.0.5"')), 'a warning names the owner');
    // The owner gets it, token included.
    owner.rrq(s.port, cfgName(LO5));
    const got = (await owner.receive(await owner.next(), 512)).toString();
    assert.match(got, /APPEND .*\/ks\/52-54-00-77-00-55\?token=tok-lo5-secret /);
    // A host in local mode holds no secret: served to anyone, as before; so is the default.
    for (const name of [cfgName(VM11), 'pxelinux.cfg/default']) {
      stranger.rrq(s.port, name);
      const text = (await stranger.receive(await stranger.next(), 512)).toString();
      assert.match(text, /LOCALBOOT 0/);
      assert.doesNotMatch(text, /token/);
    }
    // Hex-IP names are not generated: nothing of ours behind them, for the owner's IP either.
    stranger.rrq(s.port, 'pxelinux.cfg/7F000005');
    assert.deepEqual((await stranger.next()).packet, { op: Op.ERROR, code: 1, message: 'File not found' });
  } finally {
    await stranger.close();
    await owner.close();
    await s.close();
  }
});

test('GRUB\'s grub.cfg-01-<mac> with the install token goes only to its host\'s reserved IP, in any prefix; grub.cfg to anyone', async () => {
  const entries = new Map<string, BootEntry>([
    [LO5, { mac: LO5, mode: 'install', profile: 'debian12', token: 'tok-lo5-secret', since: 0 }],
    [VM11, { mac: VM11, mode: 'local', profile: 'debian12', token: null, since: 0 }],
  ]);
  const s = await startServer({ entries });
  const stranger = await RawClient.open('127.0.0.1');
  const owner = await RawClient.open('127.0.0.5');
  const grubName = (mac: string, prefix = 'grub') => `${prefix}/grub.cfg-01-${mac.replace(/:/g, '-')}`;
  try {
    for (const name of [grubName(LO5), grubName(LO5, 'debian-installer/arm64/grub'), `grub/grub.cfg-${LO5}`]) {
      stranger.rrq(s.port, name);
      assert.deepEqual((await stranger.next()).packet, { op: Op.ERROR, code: 1, message: 'File not found' }, `${name} refused to a stranger`);
      owner.rrq(s.port, name);
      const got = (await owner.receive(await owner.next(), 512)).toString();
      assert.match(got, /linux \(tftp,10\.77\.0\.1\)\/debian-installer\/12\/amd64\/linux .*'url=http:\/\/10\.77\.0\.1\/ks\/52-54-00-77-00-55\?token=tok-lo5-secret'/, name);
    }
    const refused = s.trace.events.filter((x) => x.mac === LO5 && x.data?.reason === 'not-owner');
    assert.equal(refused.length, 3, 'each refusal is in lo5\'s trace');
    // Local entries and the generated grub.cfg hold no token: anyone may read them.
    for (const [name, pattern] of [[grubName(VM11), /set default=local/], ['grub/grub.cfg', /net_default_mac/]] as const) {
      stranger.rrq(s.port, name);
      const text = (await stranger.receive(await stranger.next(), 512)).toString();
      assert.match(text, pattern);
      assert.doesNotMatch(text, /token/);
    }
  } finally {
    await stranger.close();
    await owner.close();
    await s.close();
  }
});

test('guard: port 0, broadcast, multicast and own-socket sources dropped before any reply; a throwing handler is contained', async () => {
  // workers: 0: the test reaches into the transfer port's sockets, in this thread.
  const s = await startServer({ tftp: { workers: 0 }, files: { f: Buffer.alloc(3000, 1) } });
  const c = await RawClient.open();
  const request = (s.server as unknown as { sockets: { socket: dgram.Socket }[] }).sockets[0]!.socket;
  const from = (address: string, port: number) => ({ address, port, family: 'IPv4' as const, size: 0 });
  try {
    // The datagram: a WRQ from port 0 made send() throw ERR_SOCKET_BAD_PORT in the handler.
    assert.doesNotThrow(() => request.emit('message', encodeRequest(Op.WRQ, 'x', 'octet'), from('127.0.0.1', 0)));
    assert.doesNotThrow(() => request.emit('message', encodeRequest(Op.RRQ, 'f', 'octet'), from('127.0.0.1', 0)));
    request.emit('message', encodeRequest(Op.RRQ, 'f', 'octet'), from('255.255.255.255', 68));
    request.emit('message', encodeRequest(Op.RRQ, 'f', 'octet'), from('224.0.0.1', 69));
    request.emit('message', encodeRequest(Op.WRQ, 'f', 'octet'), from('127.0.0.1', s.port));
    assert.equal(s.guard.dropped.get('tftp:port-0'), 2);
    assert.equal(s.guard.dropped.get('tftp:broadcast'), 1);
    assert.equal(s.guard.dropped.get('tftp:multicast'), 1);
    assert.equal(s.guard.dropped.get('tftp:own-socket'), 1);
    assert.equal(s.server.active, 0, 'no transfer was opened for them');
    assert.ok(s.lines.some((l) => l.includes('"level":20') && l.includes('"reason":"port-0"')), 'logged at debug');
    // A handler that throws (here: no datagram at all) is logged and counted, never thrown out.
    assert.doesNotThrow(() => request.emit('message', null, from('127.0.0.1', 4000)));
    assert.equal(s.guard.failures.get('tftp'), 1);
    // The same on a transfer port: a stranger from port 0 would have made the error 5 reply throw.
    c.rrq(s.port, 'f', [['tsize', '0']]);
    const oack = await c.next();
    const session = [...(s.server as unknown as { sessions: Map<string, { transferPort: { socket: dgram.Socket; peer: dgram.Socket } }> }).sessions.values()][0]!.transferPort;
    assert.doesNotThrow(() => session.socket.emit('message', encodeAck(1), from('127.0.0.1', 0)));
    assert.doesNotThrow(() => session.peer.emit('message', null, from('127.0.0.1', c.port)));
    assert.equal(s.guard.dropped.get('tftp:port-0'), 3);
    assert.equal(s.guard.failures.get('tftp'), 2);
    // The transfer and the server go on.
    assert.ok((await c.receive(oack, 512)).equals(Buffer.alloc(3000, 1)));
    c.rrq(s.port, 'f');
    assert.equal((await c.next()).packet.op, Op.DATA);
  } finally {
    await c.close();
    await s.close();
  }
});

test('slots: a per-address cap, and when all are taken the biggest holder gives one up to a new address', async () => {
  const s = await startServer({ tftp: { maxTransfers: 3, maxTransfersPerClient: 2, timeout: 60_000 }, files: { f: Buffer.alloc(5000, 2) } });
  const [a1, a2, a3] = await Promise.all([RawClient.open('127.0.0.1'), RawClient.open('127.0.0.1'), RawClient.open('127.0.0.1')]);
  const [b, c, d] = await Promise.all([RawClient.open('127.0.0.2'), RawClient.open('127.0.0.3'), RawClient.open('127.0.0.4')]);
  const all = [a1!, a2!, a3!, b!, c!, d!];
  try {
    a1!.rrq(s.port, 'f');
    const first = await a1!.next();
    a2!.rrq(s.port, 'f');
    assert.equal((await a2!.next()).packet.op, Op.DATA);
    // A third from the same address: busy, though the server has a free slot.
    a3!.rrq(s.port, 'f');
    const busy = (await a3!.next()).packet;
    assert.ok(busy.op === Op.ERROR && busy.code === 0 && /from your address/.test(busy.message), JSON.stringify(busy));
    assert.ok(s.trace.events.some((e) => e.reason === 'busy' && e.data?.reason === 'per-client-limit'));
    b!.rrq(s.port, 'f');
    assert.equal((await b!.next()).packet.op, Op.DATA, 'another address takes the free slot');
    assert.equal(s.server.active, 3);
    // All slots taken; 127.0.0.1 holds 2, the newcomer 0: the oldest of 127.0.0.1 is ended for it.
    c!.rrq(s.port, 'f');
    assert.equal((await c!.next()).packet.op, Op.DATA, 'the newcomer is served');
    const evicted = await a1!.next();
    assert.equal(evicted.port, first.port, 'the evicted transfer is told from its own port');
    assert.ok(evicted.packet.op === Op.ERROR && evicted.packet.code === 0, JSON.stringify(evicted.packet));
    assert.ok(s.trace.events.some((e) => e.reason === 'evicted' && e.data?.peer === `127.0.0.1:${a1!.port}`));
    assert.equal(s.server.active, 3);
    // Now everybody holds one: nobody is evicted for a fourth address.
    d!.rrq(s.port, 'f');
    const full = (await d!.next()).packet;
    assert.ok(full.op === Op.ERROR && full.code === 0 && /maxTransfers\)/.test(full.message), JSON.stringify(full));
  } finally {
    for (const x of all) await x.close();
    await s.close();
  }
});

test('a silent peer (spoofed RRQ) gets one retransmission; a stalled one with timeout 255 is ended at maxTransferTime', async () => {
  const clock = new FakeClock(0);
  const s = await startServer({ clock, tftp: { retries: 5, maxTransferTime: 600_000 }, files: { f: Buffer.alloc(100_000, 3) } });
  const spoofed = await RawClient.open();
  const stalled = await RawClient.open('127.0.0.2');
  try {
    // The spoofed "client" never answers: its OACK (or DATA 1) is sent twice in all, however long we wait.
    spoofed.rrq(s.port, 'f', [['timeout', '255']]);
    assert.equal((await spoofed.next()).packet.op, Op.OACK);
    spoofed.rrq(s.port, 'f'); // not the same request from the same port: supersedes it
    assert.equal((await spoofed.next()).packet.op, Op.DATA);
    clock.advance(255_000);
    clock.advance(255_000);
    clock.advance(255_000);
    await until('the silent transfer ended', () => s.server.active === 0);
    const resent = (await spoofed.drain(100)).filter((r) => r.packet.op === Op.DATA);
    assert.equal(resent.length, 1, 'exactly one retransmission to a peer that never acknowledged');
    assert.ok(s.trace.events.some((e) => e.reason === 'timeout' && /never acknowledged/.test(String(e.data?.reason))));
    // The stalled client acknowledged the OACK, asked for timeout 255, then went quiet.
    stalled.rrq(s.port, 'f', [['timeout', '255']]);
    const oack = await stalled.next();
    stalled.send(encodeAck(0), oack.port);
    assert.equal((await stalled.next()).packet.op, Op.DATA);
    // Ten minutes of fake time, a minute at a time (the timers run inside advance()); the event
    // loop gets a turn between steps for the sockets, no wall-clock wait.
    for (let i = 0; i < 10 && s.server.active > 0; i++) {
      clock.advance(60_000);
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(s.server.active, 0, 'ended within maxTransferTime, not after an hour of back-off');
    assert.ok(s.trace.events.some((e) => e.reason === 'expired' && e.data?.peer === `127.0.0.2:${stalled.port}`));
  } finally {
    await spoofed.close();
    await stalled.close();
    await s.close();
  }
});

test('netascii streams: concurrent netascii transfers of a big file make no copy of it', async () => {
  const size = 16 * 1024 * 1024;
  const big = Buffer.alloc(size, 0x41);
  for (let i = 0; i < size; i += 100) big[i] = 0x0a;
  // workers: 0: this thread's memory is what is measured.
  const s = await startServer({ tftp: { workers: 0 }, files: { big } });
  const clients = await Promise.all([0, 1, 2, 3, 4].map(() => RawClient.open()));
  try {
    // Warm the file cache with an octet transfer (one copy of the file, in both the old and the new code).
    clients[0]!.rrq(s.port, 'big', [['tsize', '0']]);
    assert.equal((await clients[0]!.next()).packet.op, Op.OACK);
    const before = process.memoryUsage().arrayBuffers;
    for (const c of clients.slice(1)) c.rrq(s.port, 'big', [['tsize', '0']], 'netascii');
    for (const c of clients.slice(1)) {
      const r = await c.next(20_000);
      assert.deepEqual(r.packet, { op: Op.OACK, options: [['tsize', String(size + Math.ceil(size / 100))]] });
    }
    assert.equal(s.server.active, 5);
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < size / 4, `4 live netascii transfers of a ${size}-byte file hold ${grown} more bytes`);
  } finally {
    for (const c of clients) await c.close();
    await s.close();
  }
});

test('a client that closes its port: the ICMP port unreachable ends its transfer at once, and frees its slot', async () => {
  const clock = new FakeClock(0);
  const s = await startServer({ clock, tftp: { maxTransfersPerClient: 1, timeout: 60_000 }, files: { f: Buffer.alloc(100_000, 4) } });
  const gone = await RawClient.open('127.0.0.5');
  const goneKey = `127.0.0.5:${gone.port}`;
  let goneOpen = true;
  const next = await RawClient.open('127.0.0.5');
  try {
    gone.rrq(s.port, 'f');
    assert.equal((await gone.next()).packet.op, Op.DATA);
    await gone.close();
    goneOpen = false;
    // One retransmission (a minute of fake time) meets the closed port: the kernel answers with an
    // ICMP port unreachable, which alone ends the transfer (without it: 5 retries with back-off).
    clock.advance(60_000);
    await until('the transfer ended on the ICMP error', () => s.server.active === 0);
    const ended = s.trace.events.find((e) => e.data?.peer === goneKey && e.reason !== 'complete');
    assert.equal(ended?.reason, 'unreachable', JSON.stringify(s.trace.events.map((e) => [e.reason, e.data?.peer, e.data?.reason])));
    assert.match(String(ended?.data?.reason), /ECONNREFUSED/);
    // The address's one slot is free again: its next request is served, not refused as busy.
    next.rrq(s.port, 'f');
    assert.equal((await next.next()).packet.op, Op.DATA);
  } finally {
    if (goneOpen) await gone.close();
    await next.close();
    await s.close();
  }
});

test('workers: a stranger on a worker\'s transfer port gets error 5 and the transfer goes on; source drops reach the main guard', async () => {
  const s = await startServer({ tftp: { workers: 1, workerMinKb: 0 }, files: { f: Buffer.alloc(3000, 6) } });
  const c = await RawClient.open();
  const stranger = await RawClient.open('127.0.0.2');
  try {
    assert.equal(s.server.workerPool?.threads.length, 0, 'no worker before the first transfer for one');
    c.rrq(s.port, 'f', [['tsize', '0']]);
    const oack = await c.next();
    assert.equal(s.server.workerPool?.threads.length, 1, 'the first transfer started the worker');
    stranger.send(encodeAck(1), oack.port);
    const unknown = (await stranger.next()).packet;
    assert.ok(unknown.op === Op.ERROR && unknown.code === 5, JSON.stringify(unknown));
    assert.ok((await c.receive(oack, 512)).equals(Buffer.alloc(3000, 6)));
    await until('the transfer recorded', () => s.trace.events.some((e) => e.reason === 'complete'));
    const done = s.trace.events.find((e) => e.reason === 'complete')!;
    assert.equal(done.data?.size, 3000);
    assert.equal(done.data?.cached, false);
    await until('the worker\'s debug line relayed', () => s.lines.some((l) => l.includes('unknown transfer ID') && l.includes('"level":20')));
  } finally {
    await stranger.close();
    await c.close();
    await s.close();
  }
});

test('workers: a file under workerMinKb is sent from the main thread (no worker started), a larger one by a worker', async () => {
  const s = await startServer({ tftp: { workers: 1, workerMinKb: 2 }, files: { small: Buffer.alloc(2047, 1), large: Buffer.alloc(2048, 2) } });
  const c = await RawClient.open();
  try {
    c.rrq(s.port, 'small');
    assert.ok((await c.receive(await c.next(), 512)).equals(Buffer.alloc(2047, 1)));
    await until('the short transfer recorded', () => s.trace.events.some((e) => e.reason === 'complete'));
    assert.equal(s.server.workerPool?.threads.length, 0, 'no worker for a short file');
    c.rrq(s.port, 'large');
    assert.ok((await c.receive(await c.next(), 512)).equals(Buffer.alloc(2048, 2)));
    assert.equal(s.server.workerPool?.threads.length, 1, 'the large file started a worker');
  } finally {
    await c.close();
    await s.close();
  }
});

test('workers: a worker killed mid-transfer ends its transfers as internal-error, is replaced, and the server keeps serving', async () => {
  const s = await startServer({ tftp: { workers: 1, workerMinKb: 0, timeout: 60_000 }, files: { f: Buffer.alloc(5000, 5) } });
  const c = await RawClient.open();
  try {
    c.rrq(s.port, 'f');
    assert.equal((await c.next()).packet.op, Op.DATA);
    const pool = s.server.workerPool!;
    const killed = pool.threads[0]!;
    await killed.worker.terminate();
    await until('the transfer ended', () => s.server.active === 0);
    const failed = s.trace.events.find((e) => e.data?.peer === `127.0.0.1:${c.port}`);
    assert.equal(failed?.reason, 'internal-error', JSON.stringify(s.trace.events));
    const told = (await c.next()).packet;
    assert.ok(told.op === Op.ERROR && told.code === 0, JSON.stringify(told));
    assert.ok(s.lines.some((l) => l.includes('a transfer worker exited') && l.includes('"level":50')), 'logged as an error');
    await until('a new worker replaces it', () => pool.threads.length === 1 && pool.threads[0] !== killed);
    // A message that makes no sense is logged and counted by the worker, which goes on.
    pool.threads[0]!.worker.postMessage({ type: 'nonsense' });
    await until('the bad message counted', () => s.guard.failures.get('tftp') === 1);
    c.rrq(s.port, 'f');
    assert.ok((await c.receive(await c.next(), 512)).equals(Buffer.alloc(5000, 5)));
  } finally {
    await c.close();
    await s.close();
  }
});

test('workers: a client that closes its port: the ICMP error on the worker\'s port ends its transfer', async () => {
  // Real time (a worker has no fake clock): the first retransmission, after 200 ms, meets the closed port.
  const s = await startServer({ tftp: { workers: 1, workerMinKb: 0, timeout: 200 }, files: { f: Buffer.alloc(100_000, 4) } });
  const gone = await RawClient.open('127.0.0.5');
  const goneKey = `127.0.0.5:${gone.port}`;
  try {
    gone.rrq(s.port, 'f');
    assert.equal((await gone.next()).packet.op, Op.DATA);
    await gone.close();
    await until('the transfer ended', () => s.server.active === 0);
    const ended = s.trace.events.find((e) => e.data?.peer === goneKey);
    assert.equal(ended?.reason, 'unreachable', JSON.stringify(s.trace.events.map((e) => [e.reason, e.data?.peer, e.data?.reason])));
  } finally {
    await s.close();
  }
});

test('workers: the setting wins; its default is 2 with two cores or more, none with one', () => {
  assert.equal(workerCount(undefined, 1), 0);
  assert.equal(workerCount(undefined, 2), 2);
  assert.equal(workerCount(undefined, 16), 2);
  assert.equal(workerCount(0, 16), 0);
  assert.equal(workerCount(3, 2), 3);
});
