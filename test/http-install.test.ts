/**
 * The install lifecycle over real HTTP, with curl against a running `3rc serve`: boot files with
 * Range, kickstarts only for their host (source address or current token), iPXE scripts, the
 * done/failed callbacks with single-use tokens taken only from the host's own address, expiry,
 * metrics; and, after a whole install cycle, no install token anywhere but in the answers to its
 * host (API listings, dashboard feed, store events, logs, metrics).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import http from 'node:http';
import Database from 'better-sqlite3';
import { parse } from 'yaml';
import { LAB_YAML, labWithLoopbackHost, LO_MAC, ROOT, serve, type LabConfig, type Served } from './lib/serve.js';

/** A second host on loopback: lo6, 127.0.0.6. */
const LO6_MAC = '52-54-00-77-00-56';
const withLo6 = async (extra: Record<string, unknown> = {}) => {
  const base = parse(readFileSync(LAB_YAML, 'utf8')) as { hosts: unknown[] };
  return labWithLoopbackHost({
    hosts: [...base.hosts, { name: 'lo5', mac: LO_MAC.replace(/-/g, ':'), ip: '127.0.0.5', profile: 'debian12', role: 'services' }, { name: 'lo6', mac: LO6_MAC.replace(/-/g, ':'), ip: '127.0.0.6', profile: 'debian12', role: 'services' }],
    ...extra,
  });
};

function curl(args: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', ...args], { encoding: 'latin1', maxBuffer: 64 << 20 }, (err, stdout) => {
      if (err) return reject(err);
      const i = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
    });
  });
}

describe('install lifecycle over HTTP', () => {
  let cfg: LabConfig;
  let s: Served;
  let token: string;
  let kernel: Buffer;
  const auth = () => ['-H', `Authorization: Bearer ${token}`];
  const boot = (host: string, body: object) => curl(['-X', 'PUT', ...auth(), '-H', 'content-type: application/json', '-d', JSON.stringify(body), `${s.url}/api/v1/hosts/${host}/boot`]);
  /** The install token of a host, read from its render (token holders only). */
  const installToken = async (host: string) => {
    const r = await curl([...auth(), `${s.url}/api/v1/hosts/${host}/render`]);
    const m = /\?token=([0-9a-f]+)/.exec(r.body);
    assert.ok(m, r.body);
    return m[1]!;
  };

  before(async () => {
    cfg = await withLo6();
    const bootDir = join(cfg.dir, 'boot');
    mkdirSync(join(bootDir, 'debian-installer/12/amd64'), { recursive: true });
    kernel = randomBytes(1_500_000);
    writeFileSync(join(bootDir, 'debian-installer/12/amd64/linux'), kernel);
    writeFileSync(join(bootDir, 'debian-installer/12/amd64/initrd.gz'), randomBytes(1000));
    writeFileSync(join(cfg.dir, 'secret.txt'), 'outside the boot root');
    symlinkSync(join(cfg.dir, 'secret.txt'), join(bootDir, 'escape'));
    s = await serve(cfg);
    token = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
  });
  after(async () => {
    await s?.stop();
    cfg?.cleanup();
  });

  it('serves boot files whole and by range, and nothing outside the root', async () => {
    const whole = await curl([`${s.url}/boot/files/debian-installer/12/amd64/linux`]);
    assert.equal(whole.status, 200);
    assert.ok(Buffer.from(whole.body, 'latin1').equals(kernel));
    const part = await curl(['-r', '1000-1999', `${s.url}/boot/files/debian-installer/12/amd64/linux`]);
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(part.body, 'latin1').equals(kernel.subarray(1000, 2000)));
    assert.equal((await curl([`${s.url}/boot/files/escape`])).status, 403);
    const dots = await curl(['--path-as-is', `${s.url}/boot/files/../secret.txt`]);
    assert.ok(!dots.body.includes('outside the boot root'));
    const encoded = await curl(['--path-as-is', `${s.url}/boot/files/%2e%2e/secret.txt`]);
    assert.ok(!encoded.body.includes('outside the boot root'));
    assert.notEqual(encoded.status, 200);
    assert.equal((await curl([`${s.url}/boot/files/nope`])).status, 404);
  });

  it('loader configs over HTTP (UEFI HTTP Boot): generated per MAC, the install entry only to its host', async () => {
    assert.equal((await boot('lo5', { mode: 'install' })).status, 200);
    const t = await installToken('lo5');
    const fromLo5 = ['--interface', '127.0.0.5'];
    const grub = `${s.url}/boot/files/grub/grub.cfg-01-${LO_MAC}`;
    const own = await curl([...fromLo5, grub]);
    assert.equal(own.status, 200, own.body);
    // GRUB fetches the kernel the way it fetched its config: over HTTP from /boot/files.
    assert.match(own.body, /^ {2}linux \(http,10\.77\.0\.1,\d+\)\/boot\/files\/debian-installer\/12\/amd64\/linux .*'url=http:\/\/10\.77\.0\.1:\d+\/ks\/52-54-00-77-00-55\?token=[0-9a-f]{32}'/m);
    assert.ok(own.body.includes(t));
    // GRUB 2.06's other name for the same file (net_default_mac, colons); pxelinux's over HTTP.
    assert.equal((await curl([...fromLo5, `${s.url}/boot/files/grub/grub.cfg-${LO_MAC.replace(/-/g, ':')}`])).body, own.body);
    assert.match((await curl([...fromLo5, `${s.url}/boot/files/pxelinux.cfg/01-${LO_MAC}`])).body, /^DEFAULT install$/m);
    // From any other address: the 404 of a name we do not have, without the token.
    for (const url of [grub, `${s.url}/boot/files/pxelinux.cfg/01-${LO_MAC}`]) {
      const stolen = await curl([url]);
      assert.equal(stolen.status, 404, url);
      assert.ok(!stolen.body.includes(t));
    }
    // grub.cfg (none in the root): the chain by MAC, to anyone, no secret in it.
    const def = await curl([`${s.url}/boot/files/grub/grub.cfg`]);
    assert.equal(def.status, 200);
    assert.match(def.body, /configfile "\$\{prefix\}\/grub\.cfg-\$\{net_default_mac\}"/);
    // Local boot: no secret, so anyone may read it.
    assert.equal((await boot('lo5', { mode: 'local' })).status, 200);
    const local = await curl([grub]);
    assert.equal(local.status, 200);
    assert.match(local.body, /^set default=local$/m);
  });

  it('install flip -> kickstart with the token -> done -> local -> kickstart refused, done again 410', async () => {
    const ks = `${s.url}/ks/${LO_MAC}`;
    const fromLo5 = ['--interface', '127.0.0.5'];
    assert.equal((await curl([ks])).status, 403); // not from lo5, no token
    assert.equal((await boot('lo5', { mode: 'install' })).status, 200);
    const t = await installToken('lo5');
    assert.equal((await curl([...fromLo5, `${ks}?token=${'0'.repeat(32)}`])).status, 403); // its own address, a wrong token
    // The right token from another address: the kickstart (secrets, token) goes to its host only.
    const stolen = await curl([`${ks}?token=${t}`]);
    assert.equal(stolen.status, 403);
    assert.ok(!stolen.body.includes(t));
    const got = await curl([...fromLo5, `${ks}?token=${t}`]);
    assert.equal(got.status, 200);
    assert.match(got.body, /^d-i netcfg\/get_hostname string lo5$/m);
    assert.ok(got.body.includes(`/install/${LO_MAC}/done?token=${t}`));

    assert.equal((await curl([...fromLo5, '-X', 'POST', `${s.url}/install/${LO_MAC}/done?token=0000`])).status, 403);
    // The right token from another address: refused, and the host is still installing.
    const elsewhere = await curl(['-X', 'POST', `${s.url}/install/${LO_MAC}/done?token=${t}`]);
    assert.equal(elsewhere.status, 403, elsewhere.body);
    assert.match(elsewhere.body, /only from its own address \(127\.0\.0\.5\)/);
    assert.equal((await curl([`${s.url}/install/${LO_MAC}/failed?token=${t}`])).status, 403);
    assert.equal((JSON.parse((await curl([`${s.url}/api/v1/hosts/lo5`])).body) as { boot: { mode: string } }).boot.mode, 'install');
    const done = await curl([...fromLo5, '-X', 'POST', `${s.url}/install/${LO_MAC}/done?token=${t}`]);
    assert.equal(done.status, 200, done.body);
    const lo5 = JSON.parse((await curl([`${s.url}/api/v1/hosts/lo5`])).body) as { boot: { mode: string; lastInstall: string } };
    assert.deepEqual([lo5.boot.mode, lo5.boot.lastInstall], ['local', 'done']);
    assert.equal((await curl([`${ks}?token=${t}`])).status, 403);
    const again = await curl([...fromLo5, '-X', 'POST', `${s.url}/install/${LO_MAC}/done?token=${t}`]);
    assert.equal(again.status, 410);
    const after2 = JSON.parse((await curl([`${s.url}/api/v1/hosts/lo5`])).body) as { boot: { since: string } };
    assert.equal(after2.boot.since, (lo5.boot as unknown as { since: string }).since); // nothing changed
  });

  it('the host itself gets its kickstart and iPXE script by its address; others do not', async () => {
    assert.equal((await boot('lo5', { mode: 'install' })).status, 200);
    const own = await curl(['--interface', '127.0.0.5', `${s.url}/ks/${LO_MAC}`]);
    assert.equal(own.status, 200);
    assert.match(own.body, /^d-i netcfg\/get_hostname string lo5$/m);
    const ipxe = await curl(['--interface', '127.0.0.5', `${s.url}/boot/ipxe/${LO_MAC}`]);
    assert.equal(ipxe.status, 200);
    assert.match(ipxe.body, /^kernel http:\/\/10\.77\.0\.1:\d+\/boot\/files\/debian-installer\/12\/amd64\/linux initrd=initrd .*\?token=[0-9a-f]{32} /m);
    assert.equal((await curl([`${s.url}/boot/ipxe/${LO_MAC}`])).status, 403); // from 127.0.0.1
    assert.equal((await curl(['--interface', '127.0.0.5', `${s.url}/ks/52-54-00-77-00-11`])).status, 403); // another host's
    assert.equal((await curl([`${s.url}/ks/52-54-00-99-99-99`])).status, 404);
    assert.equal((await curl([`${s.url}/ks/not-a-mac`])).status, 400);
    assert.equal((await boot('lo5', { mode: 'local' })).status, 200);
    assert.equal((await curl(['--interface', '127.0.0.5', `${s.url}/ks/${LO_MAC}`])).status, 404); // not installing
    const local = await curl(['--interface', '127.0.0.5', `${s.url}/boot/ipxe/${LO_MAC}`]);
    assert.ok(!local.body.includes('kernel ') && /^exit$/m.test(local.body));
  });

  it('install-failed keeps the log (bounded, tokens redacted) and leaves the host visibly failed, on local boot', async () => {
    const fromLo6 = ['--interface', '127.0.0.6'];
    assert.equal((await boot('lo6', { mode: 'install' })).status, 200);
    const t = await installToken('lo6');
    // An installer's log quotes its kernel command line and the URLs it fetched, token and all.
    const log = `anaconda: ${'x'.repeat(100_000)}\nkernel: inst.ks=http://10.77.0.1/ks/${LO6_MAC}?token=${t} quiet\nsecret ${t}\nERROR: disk not found\n`;
    const r = await curl([...fromLo6, '-X', 'POST', '--data-binary', log, `${s.url}/install/${LO6_MAC}/failed?token=${t}`]);
    assert.equal(r.status, 200, r.body);
    const lo6 = JSON.parse((await curl([`${s.url}/api/v1/hosts/lo6`])).body) as { boot: { mode: string; lastInstall: string } };
    assert.deepEqual([lo6.boot.mode, lo6.boot.lastInstall], ['local', 'failed']);
    const events = JSON.parse((await curl([`${s.url}/api/v1/hosts/lo6/events`])).body) as { kind: string; data: { log?: string; truncated?: boolean } }[];
    const failed = events.find((e) => e.kind === 'install.failed')!;
    assert.ok(failed.data.log!.endsWith(`kernel: inst.ks=http://10.77.0.1/ks/${LO6_MAC}?token=<redacted> quiet\nsecret <redacted>\nERROR: disk not found\n`), failed.data.log!.slice(-300));
    assert.equal(failed.data.truncated, true);
    assert.ok(failed.data.log!.length <= 64 * 1024);
    assert.ok(!JSON.stringify(events).includes(t), 'the token itself is never in the event log');
    assert.equal((await curl([...fromLo6, '-X', 'POST', `${s.url}/install/${LO6_MAC}/done?token=${t}`])).status, 410);
  });

  it('serves the HINFO role step, which learns the role from 3rc\'s DNS and fetches it over HTTP', async () => {
    const script = await curl([`${s.url}/files/post-install/role.sh`]);
    assert.equal(script.status, 200);
    assert.match(script.body, /^#!\/bin\/sh/);
    assert.equal((await curl([`${s.url}/files/roles/middleware/install.sh`])).status, 200);
    assert.notEqual((await curl(['--path-as-is', `${s.url}/files/roles/../debian12.preseed.hbs`])).status, 200);
    const work = mkdtempSync(join(tmpdir(), '3rc-role-'));
    try {
      writeFileSync(join(work, 'role.sh'), script.body);
      const out = await new Promise<string>((resolve, reject) =>
        execFile('sh', [join(work, 'role.sh')], {
          env: { ...process.env, THREERC_DNS: '127.0.0.1', THREERC_DNS_PORT: String(cfg.ports.dns), THREERC_FQDN: 'vm10.lab.test', THREERC_RETRIES: '1', ROLES_DIR: join(work, 'roles'), ROLES_URL: `${s.url}/files/roles`, DRY_RUN: '1' },
        }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout))),
      );
      assert.equal(out, `would run: ${join(work, 'roles', 'middleware', 'install.sh')}\n`);
      assert.equal(readFileSync(join(work, 'roles', 'middleware', 'install.sh'), 'utf8'), readFileSync(join(ROOT, 'kickstarts', 'roles', 'middleware', 'install.sh'), 'utf8'));
      assert.ok(readFileSync(join(work, 'roles', 'common.sh'), 'utf8').includes('pkg_install'));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('counts renders and callbacks in /metrics', async () => {
    const m = await curl([`${s.url}/metrics`]);
    assert.equal(m.status, 200);
    assert.match(m.body, /^threerc_renders_total\{kind="kickstart",result="ok"\} [1-9]/m);
    assert.match(m.body, /^threerc_install_callbacks_total\{kind="done",outcome="gone"\} 2$/m);
    assert.match(m.body, /^threerc_boot_table_changes_total\{mode="install",reason="api"\} [1-9]/m);
  });
});

describe('install expiry', () => {
  it('an install that never calls back expires and is recorded as such', async () => {
    const cfg = await labWithLoopbackHost({ install: { timeout: '2s' } });
    const s = await serve(cfg);
    try {
      const token = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
      const r = await curl(['-X', 'PUT', '-H', `Authorization: Bearer ${token}`, '-H', 'content-type: application/json', '-d', '{"mode":"install"}', `${s.url}/api/v1/hosts/vm12/boot`]);
      assert.equal(r.status, 200);
      let last = '';
      for (let i = 0; i < 100 && last !== 'expired'; i++) {
        await new Promise((res) => setTimeout(res, 200));
        last = (JSON.parse((await curl([`${s.url}/api/v1/hosts/vm12`])).body) as { boot: { lastInstall: string } }).boot.lastInstall;
      }
      assert.equal(last, 'expired');
      const events = JSON.parse((await curl([`${s.url}/api/v1/hosts/vm12/events`])).body) as { kind: string }[];
      assert.ok(events.some((e) => e.kind === 'install.expired'));
    } finally {
      await s.stop();
      cfg.cleanup();
    }
  });
});

/** The dashboard's SSE feed, read from a plain HTTP connection. */
function feed(url: string): { text: () => string; close: () => void } {
  let text = '';
  const req = http.get(url, (res) => {
    res.setEncoding('utf8');
    res.on('data', (d: string) => (text += d));
  });
  req.on('error', () => undefined);
  return { text: () => text, close: () => req.destroy() };
}

describe('install tokens go only to their host', () => {
  it('after an install cycle the token is in no API answer, dashboard feed, store event, log line or metric', async () => {
    const cfg = await withLo6();
    const s = await serve(cfg);
    let token = '';
    try {
      const api = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
      const live = feed(`${s.url}/api/v1/stream`);
      const flip = await curl(['-X', 'PUT', '-H', `Authorization: Bearer ${api}`, '-H', 'content-type: application/json', '-d', '{"mode":"install"}', `${s.url}/api/v1/hosts/lo5/boot`]);
      assert.equal(flip.status, 200);
      const lo5 = ['--interface', '127.0.0.5'];
      // The owner's own answers carry the token: its iPXE script and its kickstart.
      const ipxe = await curl([...lo5, `${s.url}/boot/ipxe/${LO_MAC}`]);
      token = /\?token=([0-9a-f]{32})/.exec(ipxe.body)?.[1] ?? '';
      assert.ok(token, ipxe.body);
      assert.ok((await curl([...lo5, `${s.url}/ks/${LO_MAC}`])).body.includes(token));
      // Someone else with the token: refused (and logged).
      assert.equal((await curl(['-X', 'POST', `${s.url}/install/${LO_MAC}/done?token=${token}`])).status, 403);
      assert.equal((await curl(['-X', 'POST', '--data-binary', `stolen ${token}`, `${s.url}/install/${LO_MAC}/failed?token=${token}`])).status, 403);
      // The installer fails and sends its log, which quotes its kernel command line.
      const log = `BOOT_IMAGE=linux url=http://10.77.0.1/ks/${LO_MAC}?token=${token} auto=true\nfetching ${s.url}/ks/${LO_MAC}?token=${token}&x=1\n${token}\nERROR: no disk\n`;
      assert.equal((await curl([...lo5, '-X', 'POST', '--data-binary', log, `${s.url}/install/${LO_MAC}/failed?token=${token}`])).status, 200);
      // Spent: later uses of it are refused and logged.
      assert.equal((await curl([`${s.url}/ks/${LO_MAC}?token=${token}`])).status, 403);
      assert.equal((await curl([...lo5, `${s.url}/install/${LO_MAC}/done?token=${token}`])).status, 410);
      for (let i = 0; i < 100 && !live.text().includes('install.failed'); i++) await new Promise((r) => setTimeout(r, 50));
      live.close();
      assert.ok(live.text().includes('install.failed'), 'the feed saw the cycle');

      const answers: Record<string, string> = { feed: live.text() };
      for (const path of ['/api/v1/hosts', '/api/v1/hosts/lo5', '/api/v1/hosts/lo5/boot', '/api/v1/hosts/lo5/events?limit=10000', '/api/v1/overview', '/api/v1/timeline/lo5', '/api/v1/ha', '/api/v1/p2v', '/api/v1/health', '/metrics', '/']) {
        const r = await curl([`${s.url}${path}`]);
        assert.equal(r.status, 200, `${path}: ${r.body.slice(0, 200)}`);
        answers[path] = r.body;
      }
      // What a reconnecting dashboard gets replayed from the store.
      const replay = await new Promise<string>((resolve) => {
        let text = '';
        const req = http.get(`${s.url}/api/v1/stream`, { headers: { 'last-event-id': '1' } }, (res) => {
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            text += d;
            if (text.includes('install.failed')) req.destroy();
          });
          res.on('close', () => resolve(text));
        });
      });
      answers.replay = replay;
      assert.ok(replay.includes('<redacted>'), 'the failed log is there, redacted');
      for (const [where, text] of Object.entries(answers)) assert.ok(!text.includes(token), `the token is in ${where}`);
    } finally {
      await s.stop();
    }
    try {
      if (token) {
        // The log lines of the whole cycle (refusals included) and every stored event.
        assert.ok(s.lines.some((l) => l.includes('install-done refused')), 'the refusals were logged');
        for (const line of s.lines) assert.ok(!line.includes(token), `the token is in a log line: ${line}`);
        assert.ok(!s.stderr().includes(token));
        const db = new Database(join(cfg.dir, '3rc.db'), { readonly: true });
        try {
          const events = db.prepare('SELECT * FROM events').all();
          assert.ok(events.length > 5);
          for (const e of events) assert.ok(!JSON.stringify(e).includes(token), `the token is in a stored event: ${JSON.stringify(e).slice(0, 300)}`);
        } finally {
          db.close();
        }
      }
    } finally {
      cfg.cleanup();
    }
  });
});
