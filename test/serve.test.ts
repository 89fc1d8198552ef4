/**
 * `3rc serve` as a real child process: start, stop, port errors, one server per store, restart
 * after kill -9, and the API and CLI that change the boot table.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteStore } from '../src/store/sqlite.js';
import { cli, serve, writeLabConfig, type LabConfig } from './lib/serve.js';

const configs: LabConfig[] = [];
after(() => configs.forEach((c) => c.cleanup()));
async function lab(changes: Record<string, unknown> = {}): Promise<LabConfig> {
  const c = await writeLabConfig(changes);
  configs.push(c);
  return c;
}

const logs = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const u = dgram.createSocket('udp4');
    u.once('error', () => resolve(false));
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  });
}

async function api(url: string, method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('3rc serve', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`starts with the example inventory and stops cleanly on ${signal}`, async () => {
      const cfg = await lab();
      const s = await serve(cfg);
      const ready = logs(s.lines).find((l) => l.msg === '3rc ready')!;
      assert.deepEqual(ready.listening, {
        dhcp: [`127.0.0.1:${cfg.ports.dhcp}/udp`],
        tftp: [`127.0.0.1:${cfg.ports.tftp}/udp`],
        dns: [`127.0.0.1:${cfg.ports.dns}/udp`, `127.0.0.1:${cfg.ports.dns}/tcp`],
        http: [`127.0.0.1:${cfg.ports.http}/tcp`],
      });
      const loaded = logs(s.lines).find((l) => l.msg === 'state loaded')!;
      assert.equal(loaded.hosts, 6);
      const health = await api(s.url, 'GET', '/api/v1/health');
      assert.equal(health.status, 200);
      assert.equal(health.body.service, '3rc');
      assert.equal(health.body.hosts, 6);
      s.proc.kill(signal);
      const { code } = await s.exited;
      assert.equal(code, 0);
      const tail = logs(s.lines).map((l) => l.msg);
      assert.ok(tail.includes('stopping') && tail.at(-1) === '3rc stopped', tail.join(', '));
      assert.equal(s.stderr(), '');
      // Every socket is closed and the store released.
      assert.ok(await tcpFree(cfg.ports.http));
      assert.ok(await udpFree(cfg.ports.dhcp));
      assert.ok(await udpFree(cfg.ports.tftp));
      assert.ok(await udpFree(cfg.ports.dns));
      assert.ok(await tcpFree(cfg.ports.dns));
      (await SqliteStore.open({ path: join(cfg.dir, '3rc.db'), exclusive: true }).close());
    });
  }

  it('a taken TCP port gives one line naming the port and the fix, and leaves nothing behind', async () => {
    const cfg = await lab();
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(cfg.ports.http, '127.0.0.1', () => r()));
    try {
      await assert.rejects(serve(cfg), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        const lines = err.stderr.trim().split('\n');
        assert.equal(lines.length, 1, err.stderr);
        assert.equal(
          lines[0],
          `3rc: cannot listen for HTTP on 127.0.0.1:${cfg.ports.http}/tcp: the port is already in use by another program (see which: ss -lntp 'sport = :${cfg.ports.http}'); stop it, or set servers.http.port, or servers.http.enabled: false`,
        );
        return true;
      });
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    // The servers it had already started were closed again.
    assert.ok(await udpFree(cfg.ports.dhcp));
    const s = await serve(cfg);
    await s.stop();
  });

  it('a taken UDP port too', async () => {
    const cfg = await lab();
    const squatter = dgram.createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(cfg.ports.tftp, '127.0.0.1', () => r()));
    try {
      await assert.rejects(serve(cfg), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr, new RegExp(`^3rc: cannot listen for TFTP on 127\\.0\\.0\\.1:${cfg.ports.tftp}/udp: the port is already in use .*servers\\.tftp\\.port.*\\n$`));
        return true;
      });
    } finally {
      squatter.close();
    }
  });

  it('a port below 1024 without privileges names CAP_NET_BIND_SERVICE', async (t) => {
    const cfg = await lab({ servers: { http: { port: 80 } } });
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      // Run as nobody, which has no right to bind port 80; its store must be writable for it.
      chmodSync(cfg.dir, 0o777);
    } else {
      t.diagnostic('running unprivileged already: binding port 80 directly');
    }
    await assert.rejects(serve(cfg, asRoot ? { uid: 65534, gid: 65534 } : {}), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.equal(err.stderr.trim().split('\n').length, 1, err.stderr);
      assert.match(err.stderr, /^3rc: cannot listen for HTTP on 127\.0\.0\.1:80\/tcp: ports below 1024 need root or CAP_NET_BIND_SERVICE; .*set servers\.http\.port to 1024 or above\n$/);
      return true;
    });
  });

  it('a second server on the same store is refused', async () => {
    const cfg = await lab();
    const first = await serve(cfg);
    try {
      const other = await writeLabConfig({ store: { path: join(cfg.dir, '3rc.db') } });
      configs.push(other);
      await assert.rejects(serve(other), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr, /^3rc: store .*3rc\.db is in use by another 3rc process .*only one 3rc may serve a store\n$/);
        return true;
      });
      // The first one is unharmed.
      assert.equal((await api(first.url, 'GET', '/api/v1/health')).status, 200);
    } finally {
      await first.stop();
    }
  });

  it('after kill -9, a restart reloads the boot table (tokens included) and the leases', async () => {
    const cfg = await lab();
    // Leases written by an earlier run.
    const pre = SqliteStore.open({ path: join(cfg.dir, '3rc.db') });
    await pre.write([{ op: 'putLease', lease: { ip: '10.77.0.10', mac: '52:54:00:77:00:10', state: 'bound', expiresAt: Date.now() + 3_600_000, updatedAt: Date.now() } }]);
    await pre.close();

    const s1 = await serve(cfg);
    const flip = await cli(['boot', 'vm12', '--install', '--config', cfg.file]);
    assert.equal(flip.code, 0, flip.stderr);
    assert.match(flip.stdout, /^vm12 \(52:54:00:77:00:12\): install rocky9, set through http:\/\/127\.0\.0\.1:\d+\n$/);
    await s1.kill9();

    const direct = SqliteStore.open({ path: join(cfg.dir, '3rc.db') });
    const token = (await direct.listBootEntries()).find((e) => e.mac === '52:54:00:77:00:12')!.token;
    await direct.close();
    assert.ok(token);

    const s2 = await serve(cfg);
    try {
      const loaded = logs(s2.lines).find((l) => l.msg === 'state loaded')!;
      assert.equal(loaded.leases, 1);
      const vm12 = await api(s2.url, 'GET', '/api/v1/hosts/vm12');
      assert.equal(vm12.body.boot.mode, 'install');
      assert.equal(vm12.body.boot.profile, 'rocky9');
      assert.equal((await api(s2.url, 'GET', '/api/v1/hosts/vm10')).body.boot.mode, 'local');
    } finally {
      await s2.stop();
    }
    const after2 = SqliteStore.open({ path: join(cfg.dir, '3rc.db') });
    assert.equal((await after2.listBootEntries()).find((e) => e.mac === '52:54:00:77:00:12')!.token, token);
    await after2.close();
  });
});

describe('metrics of a running 3rc', () => {
  it('count DNS answers and TFTP transfers', async () => {
    const cfg = await lab();
    mkdirSync(join(cfg.dir, 'boot'), { recursive: true });
    writeFileSync(join(cfg.dir, 'boot', 'hello.txt'), 'hello\n');
    const s = await serve(cfg);
    try {
      execFileSync('dig', ['+short', '+time=2', '+tries=1', '-p', String(cfg.ports.dns), '@127.0.0.1', 'vm10.lab.test', 'A']);
      execFileSync('dig', ['+short', '+time=2', '+tries=1', '-p', String(cfg.ports.dns), '@127.0.0.1', 'nope.lab.test', 'A']);
      execFileSync('curl', ['-sS', '-o', '/dev/null', `tftp://127.0.0.1:${cfg.ports.tftp}/hello.txt`]);
      // The transfer is recorded when it ends, right after curl has its last block.
      let m = '';
      for (let i = 0; i < 50 && !/threerc_tftp_transfers_total\{outcome="complete"\} 1/.test(m); i++) {
        await new Promise((r) => setTimeout(r, 100));
        m = await (await fetch(`${s.url}/metrics`)).text();
      }
      assert.match(m, /^threerc_dns_queries_total\{transport="udp",rcode="NOERROR"\} 1$/m);
      assert.match(m, /^threerc_dns_queries_total\{transport="udp",rcode="NXDOMAIN"\} 1$/m);
      assert.match(m, /^threerc_tftp_transfers_total\{outcome="complete"\} 1$/m);
    } finally {
      await s.stop();
    }
  });
});

describe('the API of a running 3rc', () => {
  it('needs the token for changes, and answers bad requests with the reason', async () => {
    const cfg = await lab();
    const s = await serve(cfg);
    try {
      const token = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
      assert.ok(token.length >= 32);
      // Reads are open.
      const hosts = await api(s.url, 'GET', '/api/v1/hosts');
      assert.equal(hosts.status, 200);
      assert.deepEqual((hosts.body as unknown as { name: string }[]).map((h) => h.name), ['vm10', 'vm11', 'vm12', 'vm13', 'vm14', 'vm15']);
      // Changes are not.
      const none = await api(s.url, 'PUT', '/api/v1/hosts/vm10/boot', { body: { mode: 'install' } });
      assert.equal(none.status, 401);
      // The render preview shows the kickstart with its install token: a read that needs the token.
      const preview = await api(s.url, 'GET', '/api/v1/hosts/vm10/render');
      assert.equal(preview.status, 401);
      assert.equal(preview.body.error.code, 'E_AUTH_REQUIRED');
      const wrong = await api(s.url, 'PUT', '/api/v1/hosts/vm10/boot', { token: 'x'.repeat(32), body: { mode: 'install' } });
      assert.equal(wrong.status, 403);
      assert.equal((await api(s.url, 'GET', '/api/v1/hosts/vm10')).body.boot.mode, 'local');

      const bad = await api(s.url, 'PUT', '/api/v1/hosts/vm10/boot', { token, body: { mode: 'reinstall' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'mode');
      assert.match(bad.body.error.message, /mode must be "install" or "local"/);
      const badProfile = await api(s.url, 'PUT', '/api/v1/hosts/vm10/boot', { token, body: { mode: 'install', profile: 'win95' } });
      assert.equal(badProfile.status, 400);
      assert.equal(badProfile.body.error.field, 'profile');
      const badJson = await api(s.url, 'PUT', '/api/v1/hosts/vm10/boot', { token, body: '{"mode": ' });
      assert.equal(badJson.status, 400);
      const unknown = await api(s.url, 'PUT', '/api/v1/hosts/vm99/boot', { token, body: { mode: 'install' } });
      assert.equal(unknown.status, 404);
      assert.equal((await api(s.url, 'GET', '/api/v1/nope')).status, 404);

      const ok = await api(s.url, 'PUT', '/api/v1/hosts/vm10/boot', { token, body: { mode: 'install', profile: 'rocky9', reason: 'test' } });
      assert.equal(ok.status, 200);
      assert.deepEqual([ok.body.mode, ok.body.profile], ['install', 'rocky9']);
      assert.equal(ok.body.token, undefined); // never shown
      const events = await api(s.url, 'GET', '/api/v1/hosts/vm10/events');
      const last = (events.body as unknown as { kind: string; reason: string }[]).at(-1)!;
      assert.deepEqual([last.kind, last.reason], ['boot.set', 'test']);
      assert.equal((await api(s.url, 'GET', '/api/v1/hosts/vm10/events?limit=0')).status, 400);
    } finally {
      await s.stop();
    }
  });
});

describe('3rc boot and 3rc hosts', () => {
  it('go through the running server with its token, and straight to the store when none runs', async () => {
    const cfg = await lab();
    const s = await serve(cfg);
    try {
      const wrong = await cli(['boot', 'vm11', '--install', '--config', cfg.file], { env: { THREERC_API_TOKEN: 'not-the-token' } });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /^3rc: PUT \/api\/v1\/hosts\/vm11\/boot: 403 the API token is not valid \(set THREERC_API_TOKEN or api\.tokenFile/);
      const flip = await cli(['boot', 'vm11', '--install', 'rocky9', '-c', cfg.file]);
      assert.equal(flip.code, 0, flip.stderr);
      const table = await cli(['hosts', '--config', cfg.file]);
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trim().split('\n');
      assert.match(lines[0]!, /^NAME\s+MAC\s+IP\s+PROFILE\s+BOOT\s+ROLE\s+HYPERVISOR$/);
      assert.match(lines[2]!, /^vm11\s+52:54:00:77:00:11\s+10\.77\.0\.11\s+debian12\s+install \(rocky9\)\s+services\s+hv1$/);
      // The server changed in memory too: its API shows it at once.
      assert.equal((await api(s.url, 'GET', '/api/v1/hosts/vm11')).body.boot.mode, 'install');
    } finally {
      await s.stop();
    }
    const local = await cli(['boot', 'vm11', '--local', '--config', cfg.file]);
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stdout, /^vm11 \(52:54:00:77:00:11\): local boot, set in the store .*3rc\.db \(no server running\)\n$/);
    const json = await cli(['hosts', '--json', '--config', cfg.file]);
    const vm11 = (JSON.parse(json.stdout) as { name: string; boot: { mode: string } }[]).find((h) => h.name === 'vm11')!;
    assert.equal(vm11.boot.mode, 'local');
  });

  it('refuse to write behind a server they cannot reach', async () => {
    const cfg = await lab({ servers: { http: { enabled: false } } });
    const s = await serve(cfg);
    try {
      const r = await cli(['boot', 'vm10', '--install', '--config', cfg.file]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^3rc: a running 3rc holds the store .*3rc\.db, but its HTTP server is disabled \(servers\.http\.enabled: false\); change it through that server, or stop it first\n$/);
      const h = await cli(['hosts', '--config', cfg.file]);
      assert.equal(h.code, 1);
    } finally {
      await s.stop();
    }
  });

  it('refuse to change a 3rc that serves another store', async () => {
    const cfg = await lab();
    const s = await serve(cfg);
    try {
      const other = await writeLabConfig({ servers: { http: { port: cfg.ports.http } } });
      configs.push(other);
      const r = await cli(['boot', 'vm10', '--install', '--config', other.file]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /serves another store than .*: refusing to change it/);
    } finally {
      await s.stop();
    }
  });
});
