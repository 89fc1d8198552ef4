/**
 * The capture environment's HTTP calls with real clients on loopback: curl for the hardware
 * report and chunks (token, checksum and order checks), and busybox nc sending a chunk the way
 * kickstarts/capture.sh.hbs does (its input held open until 3rc answers): a refused chunk must
 * still get its status line, so that the capture stops instead of retrying. Every call must come
 * from the host's own address (phys16 is on 127.0.0.16 here) as well as carry its token, and a
 * refused upload is answered before its body is read.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { p2vRouter } from '../src/http/p2v-routes.js';
import { silentLogger } from '../src/lib/log.js';
import { cleanWorlds, disk, MAC, MIB, report, world } from '../src/p2v/testkit.js';

const BUSYBOX = '/bin/busybox';
/** phys16's address: the capture's calls come from it. */
const HOST_IP = '127.0.0.16';

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('P2V capture calls over HTTP', () => {
  let w: Awaited<ReturnType<typeof world>>;
  let server: Server;
  let base: string;
  let tmp: string;
  const macPath = MAC.replace(/:/g, '-');

  before(async () => {
    w = await world({ ip: HOST_IP });
    tmp = mkdtempSync(join(tmpdir(), '3rc-p2v-http-'));
    const app = express();
    app.use(p2vRouter({ log: silentLogger, trace: { record: () => undefined }, clock: w.clock, inventory: w.inventory, p2v: w.svc }));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/p2v/${macPath}`;
  });

  after(async () => {
    await new Promise((r) => server?.close(r));
    w?.svc.stop();
    cleanWorlds();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const curl = async (path: string, file: string, headers: string[] = [], from = HOST_IP) => {
    const r = await run('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', '--interface', from, '--data-binary', `@${file}`, ...headers.flatMap((h) => ['-H', h]), `${base}${path}`]);
    const i = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
  };

  it('takes the report and checked chunks with the token, refuses the rest with a reason', async () => {
    await w.svc.start('phys16', { to: 'hv1' });
    const q = `?token=${w.token()}`;
    writeFileSync(join(tmp, 'report'), report);
    assert.equal((await curl('/hardware?token=wrong', join(tmp, 'report'))).status, 403);
    // The right token from another address (127.0.0.1) opens nothing.
    const elsewhere = await curl(`/hardware${q}`, join(tmp, 'report'), [], '127.0.0.1');
    assert.equal(elsewhere.status, 403);
    assert.match(elsewhere.body, /only from its own address 127\.0\.0\.16/);
    assert.equal(w.svc.job('phys16').hardware, null);
    const hw = await curl(`/hardware${q}`, join(tmp, 'report'));
    assert.equal(hw.status, 200, hw.body);
    assert.equal(hw.body, `chunk_bytes ${MIB}\ndisk vda ${disk.length} 0\n`);
    for (let i = 0; i < 3; i++) {
      const gz = gzipSync(disk.subarray(i * MIB, (i + 1) * MIB));
      writeFileSync(join(tmp, `c${i}`), gz);
      const sha = createHash('sha256').update(gz).digest('hex');
      const bad = await curl(`/disks/vda/chunks/${i}${q}`, join(tmp, `c${i}`), [`X-3rc-Sha256: ${'0'.repeat(64)}`]);
      assert.equal(bad.status, 400);
      assert.match(bad.body, /SHA-256 of the body is [0-9a-f]{64}, expected 0{64}/);
      assert.equal((await curl(`/disks/vda/chunks/${i}${q}`, join(tmp, `c${i}`), [`X-3rc-Sha256: ${sha}`], '127.0.0.1')).status, 403);
      const ok = await curl(`/disks/vda/chunks/${i}${q}`, join(tmp, `c${i}`), [`X-3rc-Sha256: ${sha}`]);
      assert.equal(ok.status, 200, ok.body);
    }
    assert.equal((await curl(`/disks/vda/chunks/x${q}`, join(tmp, 'c0'))).status, 400);
    assert.equal((await curl(`/complete${q}`, join(tmp, 'report'), [], '127.0.0.1')).status, 403);
    const done = await curl(`/complete${q}`, join(tmp, 'report'));
    assert.equal(done.status, 200, done.body);
    assert.equal(done.body, `ok vda=${createHash('sha256').update(disk).digest('hex')}\n`);
  });

  it('a refused chunk sent like the capture sends it (busybox nc) still gets its status', { skip: existsSync(BUSYBOX) ? undefined : 'no /bin/busybox (busybox-static)' }, async () => {
    // Not from vm10's address (and vm10 has no capture running): 403, with 64 MiB of body that 3rc does not want.
    const body = join(tmp, 'big');
    writeFileSync(body, randomBytes(64 * MIB));
    const { port } = server.address() as AddressInfo;
    const script = `(printf 'POST /p2v/52-54-00-77-00-10/disks/vda/chunks/0?token=x HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\nContent-Length: ${64 * MIB}\\r\\nX-3rc-Sha256: ${'0'.repeat(64)}\\r\\nConnection: close\\r\\n\\r\\n'; cat ${body}; sleep 3) | ${BUSYBOX} nc 127.0.0.1 ${port}`;
    const r = await run('/bin/sh', ['-c', script]);
    assert.match(r.stdout.split('\n')[0] ?? '', /^HTTP\/1\.1 403/, `nc exit ${r.code}, got ${JSON.stringify(r.stdout.slice(0, 200))} ${r.stderr}`);
    assert.match(r.stdout, /only from its own address/);
  });

  /**
   * Sends the head of a POST announcing `length` bytes of body and none of them; resolves with
   * the answer's status and text (the old code read up to ~1 GiB, for up to 60 s, before it).
   */
  const headOnly = (path: string, length: number, localAddress: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { port } = server.address() as AddressInfo;
      const req = http.request({ host: '127.0.0.1', port, localAddress, method: 'POST', path, headers: { 'content-length': String(length), 'x-3rc-sha256': '0'.repeat(64) } });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      req.on('error', reject);
      req.flushHeaders();
    });

  it('refuses an upload before reading its body: wrong address, wrong token, no capture', { timeout: 20_000 }, async () => {
    const GiB = 1024 * MIB;
    const q = `?token=${w.token() ?? 'none'}`;
    const other = await headOnly(`/p2v/${macPath}/disks/vda/chunks/0${q}`, GiB, '127.0.0.1');
    assert.equal(other.status, 403, other.body);
    const badToken = await headOnly(`/p2v/${macPath}/disks/vda/chunks/0?token=${'0'.repeat(32)}`, GiB, HOST_IP);
    assert.equal(badToken.status, 404, badToken.body); // the capture of the first test is complete
    const unknown = await headOnly('/p2v/52-54-00-99-99-99/disks/vda/chunks/0?token=x', GiB, '127.0.0.1');
    assert.equal(unknown.status, 404, unknown.body);
  });
});
