/**
 * A reinstalled host's new SSH host keys, learned from its install-done call into the store: a
 * real `3rc serve` with ha.guestSsh (and an operator's knownHosts file, which 3rc only reads), keys
 * made by ssh-keygen, the done call with the install token (and without it); then the server is
 * killed with SIGKILL, its SQLite store reopened, and, where sshd can run, a real SSH connection
 * checks a server's host keys against the keys the store kept.
 * A done call is taken only from the host's own address: the hosts here live on loopback
 * (127.0.0.x), and the installers' curl and wget are made to send from there.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SshErrorCodes, type SshTarget } from '../src/hypervisor/ssh.js';
import { learnedKeysOf } from '../src/hypervisor/learned-keys.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { freePort, keygen, runOnNewConnection, sshdUnavailable, startSshd } from './hypervisor/sshd.js';
import http from 'node:http';
import { parse } from 'yaml';
import { LAB_YAML, labWithLoopbackHost, LO_MAC, serve, type LabConfig, type Served } from './lib/serve.js';

/** Hosts on loopback, so that calls can come from their own address (lo14's is 127.0.0.1: busybox wget cannot pick one). */
const LOOPBACK_HOSTS = [
  { name: 'lo5', mac: LO_MAC.replace(/-/g, ':'), ip: '127.0.0.5', profile: 'debian12', role: 'services' },
  { name: 'lo10', mac: '52:54:00:77:01:10', ip: '127.0.0.10', profile: 'debian12', role: 'services' },
  { name: 'lo11', mac: '52:54:00:77:01:11', ip: '127.0.0.11', profile: 'debian12', role: 'services' },
  { name: 'lo14', mac: '52:54:00:77:01:14', ip: '127.0.0.1', profile: 'debian12-image', role: 'services' },
];
const ipOf = (name: string) => LOOPBACK_HOSTS.find((h) => h.name === name)!.ip;
const macPath = (name: string) => LOOPBACK_HOSTS.find((h) => h.name === name)!.mac.replace(/:/g, '-');

/** An HTTP request from a given local address (fetch cannot choose one). */
function request(url: string, opts: { method?: string; body?: string; from: string }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', localAddress: opts.from, headers: { 'content-type': 'text/plain' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const OLD = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAj4JP3i0GfU7CRnPZn/kUjbHhJD8ozajvZo2f9a9eMZ';
const noSshd = sshdUnavailable();
const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((p) => existsSync(p));

/** `TYPE BASE64` of a public key line (what the installer posts). */
const keyOf = (pub: string) => pub.split(' ').slice(0, 2).join(' ');

describe('host keys learned from install-done', () => {
  const dir = mkdtempSync(join(tmpdir(), '3rc-hostkeys-'));
  const hostEd = keygen(join(dir, 'host_ed25519'), 'ed25519');
  const hostEc = keygen(join(dir, 'host_ecdsa'), 'ecdsa');
  const client = keygen(join(dir, 'client'), 'ed25519');
  const knownHosts = join(dir, 'known_hosts');
  let port: number;
  let cfg: LabConfig;
  let s: Served;
  let api: string;
  let before0: string;

  const call = async (path: string, init: RequestInit = {}) => {
    const r = await fetch(`${s.url}${path}`, { ...init, headers: { authorization: `Bearer ${api}`, ...(init.headers as Record<string, string>) } });
    return { status: r.status, body: await r.text() };
  };
  /** Flips a host to install and returns the done path (with its token) from its kickstart. */
  const install = async (host: string, mac: string) => {
    assert.equal((await call(`/api/v1/hosts/${host}/boot`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"mode":"install"}' })).status, 200);
    const token = /\?token=([0-9a-f]+)/.exec((await call(`/api/v1/hosts/${host}/render`)).body)?.[1];
    assert.ok(token);
    // The kickstart goes to its host only, from its own address.
    const ks = await request(`${s.url}/ks/${mac}?token=${token}`, { from: ipOf(host) });
    assert.equal(ks.status, 200);
    const done = /\/install\/[0-9a-f-]+\/done\?token=[0-9a-f]+/.exec(ks.text)?.[0];
    assert.ok(done);
    return done;
  };
  const postDone = (path: string, body: string, from: string) => request(`${s.url}${path}`, { method: 'POST', body, from });
  /** `SHA256:...` of a key pair's public key, as ssh-keygen prints it. */
  const fpOf = (k: { key: string }) => execFileSync('ssh-keygen', ['-lf', `${k.key}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  /**
   * Fingerprints of the keys the server's latest install.host-keys event of `host` says it
   * recorded (the trace is written behind the answer: read again, a few times, until `want`).
   */
  const recorded = async (host: string, want?: string[]) => {
    let got: string[] = [];
    for (let i = 0; i < 50; i++) {
      const events = JSON.parse((await call(`/api/v1/hosts/${host}/events`)).body) as { kind: string; reason: string; data: { fingerprints: string[] } }[];
      const ev = events.filter((e) => e.kind === 'install.host-keys' && e.reason === 'recorded').at(-1);
      got = ev ? ev.data.fingerprints.map((f) => f.split(' ')[1]!) : [];
      if (want === undefined || JSON.stringify(got) === JSON.stringify(want)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return got;
  };

  before(async () => {
    port = await freePort();
    before0 = [`# hand-written: keep`, `[127.0.0.5]:${port} ${OLD}`, `hv1 ${OLD}`, `lo5.lab.test ${OLD}`, `127.0.0.5 ${OLD}`, `[127.0.0.1]:${port} ${OLD}`, ''].join('\n');
    writeFileSync(knownHosts, before0);
    const base = parse(readFileSync(LAB_YAML, 'utf8')) as { hosts: unknown[] };
    cfg = await labWithLoopbackHost({ hosts: [...base.hosts, ...LOOPBACK_HOSTS], ha: { guestSsh: { port, key: client.key, knownHosts } } });
    s = await serve(cfg);
    api = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
  });
  after(async () => {
    await s?.stop();
    cfg?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a done with a wrong token changes nothing; with the token, the host has exactly the reported keys', async () => {
    const done = await install('lo5', LO_MAC);
    const body = `${keyOf(hostEd.pub)}\n${keyOf(hostEc.pub)}\n`;
    const forged = await postDone(done.replace(/token=[0-9a-f]+/, `token=${'0'.repeat(32)}`), body, '127.0.0.5');
    assert.equal(forged.status, 403);
    // The right token from another address.
    assert.equal((await postDone(done, body, '127.0.0.1')).status, 403);
    assert.equal(readFileSync(knownHosts, 'utf8'), before0);

    assert.deepEqual(await recorded('lo5'), []);

    const ok = await postDone(done, body, '127.0.0.5');
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.text), { host: 'lo5', result: 'done', boot: 'local', hostKeys: 2 });
    // Learned into the store; the operator's file is only read.
    assert.equal(readFileSync(knownHosts, 'utf8'), before0);
    assert.deepEqual(await recorded('lo5', [fpOf(hostEd), fpOf(hostEc)]), [fpOf(hostEd), fpOf(hostEc)]);

    // Spent: the same call again is 410 and learns nothing, even with other keys.
    assert.equal((await postDone(done, `${OLD}\n`, '127.0.0.5')).status, 410);
    assert.equal((await recorded('lo5')).length, 2);

    const events = JSON.parse((await call('/api/v1/hosts/lo5/events')).body) as { kind: string; reason: string; data: { fingerprints?: string[]; store?: string; hostKeys?: number; status?: number } }[];
    const ev = events.find((e) => e.kind === 'install.host-keys');
    assert.ok(ev, JSON.stringify(events));
    assert.equal(ev.reason, 'recorded');
    assert.equal(ev.data.store, 'sqlite');
    assert.deepEqual(ev.data.fingerprints, [`ssh-ed25519 ${fpOf(hostEd)}`, `ecdsa-sha2-nistp256 ${fpOf(hostEc)}`]);
    assert.ok(events.some((e) => e.kind === 'http.install-done' && e.data.status === 200 && e.data.hostKeys === 2));
    assert.ok(!JSON.stringify(events).includes(keyOf(hostEd.pub).split(' ')[1]!), 'fingerprints only, not whole keys');
  });

  it('a done with no body, or with a body too large or of junk, still counts and learns nothing', async () => {
    const huge = await postDone(await install('lo10', macPath('lo10')), `${keyOf(hostEd.pub)}\n${'x'.repeat(200_000)}\n`, '127.0.0.10');
    assert.equal(huge.status, 200);
    assert.equal((JSON.parse(huge.text) as { hostKeys: number }).hostKeys, 0);
    const junk = await postDone(await install('lo11', macPath('lo11')), Buffer.from([0, 255, 10, 115, 115, 104, 45, 114, 115, 97, 32, 65, 65, 10]).toString('latin1'), '127.0.0.11');
    assert.equal(junk.status, 200);
    const empty = await request(`${s.url}${await install('lo10', macPath('lo10'))}`, { from: '127.0.0.10' }); // GET, like an old installer may
    assert.equal(empty.status, 200);
    assert.deepEqual([await recorded('lo10'), await recorded('lo11')], [[], []]);
    for (const host of ['lo10', 'lo11']) {
      const b = JSON.parse((await call(`/api/v1/hosts/${host}`)).body) as { boot: { mode: string; lastInstall: string } };
      assert.deepEqual([b.boot.mode, b.boot.lastInstall], ['local', 'done']);
    }
  });

  /** Host key files as an installed system has them, under root/etc/ssh. */
  const sshDir = (name: string, pubs: string[]) => {
    const root = join(dir, name);
    mkdirSync(join(root, 'etc', 'ssh'), { recursive: true });
    pubs.forEach((p, i) => copyFileSync(p, join(root, 'etc', 'ssh', `ssh_host_${i}_key.pub`)));
    return root;
  };
  /** A PATH directory where curl fails and wget is `impl` (a program path). */
  const stubs = (name: string, wget: string) => {
    const bin = join(dir, name);
    mkdirSync(bin);
    writeFileSync(join(bin, 'curl'), '#!/bin/sh\nexit 7\n', { mode: 0o755 });
    symlinkSync(wget, join(bin, 'wget'));
    return bin;
  };
  /** A program `name` that runs the real one with `args` first (to send from a host's address). */
  const wrapper = (dir0: string, name: string, args: string) => {
    const bin = join(dir, dir0);
    mkdirSync(bin, { recursive: true });
    const real = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    writeFileSync(join(bin, name), `#!/bin/sh\nexec ${real} ${args} "$@"\n`, { mode: 0o755 });
    return bin;
  };
  const sh = (script: string, env: NodeJS.ProcessEnv = {}) => execFileSync('sh', ['-c', script], { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  /** The kickstart of a host flipped to install, with its URLs pointing at this 3rc. */
  const kickstart = async (host: string, mac: string) => {
    const done = await install(host, mac);
    const ks = (await request(`${s.url}${done.replace(/\/install\/([0-9a-f-]+)\/done/, '/ks/$1')}`, { from: ipOf(host) })).text;
    return ks.replace(/http:\/\/10\.77\.0\.1(:\d+)?/g, s.url);
  };

  it("the preseed's late_command posts the target's host keys with curl, or with wget when curl fails", async () => {
    const tail = (ks: string) => {
      // What the target's sh -c gets: the outer shell turns each '\'' back into ' (src/render/shell.ts).
      const cmd = /^d-i preseed\/late_command string in-target sh -c '(.*)'$/m.exec(ks)?.[1]?.replaceAll(`'\\''`, `'`);
      assert.ok(cmd, ks);
      const at = cmd.indexOf('k=$(');
      assert.ok(at > 0, cmd);
      return cmd.slice(at);
    };
    const both = sshDir('target-both', [`${hostEd.key}.pub`, `${hostEc.key}.pub`]);
    const curlFromLo11 = wrapper('bin-curl-lo11', 'curl', '--interface 127.0.0.11');
    sh(tail(await kickstart('lo11', macPath('lo11'))).replace('/etc/ssh/', `${both}/etc/ssh/`), { PATH: `${curlFromLo11}:${process.env.PATH}` });
    assert.deepEqual(await recorded('lo11', [fpOf(hostEd), fpOf(hostEc)]), [fpOf(hostEd), fpOf(hostEc)]);

    const one = sshDir('target-one', [`${hostEc.key}.pub`]);
    const gnu = stubs('bin-gnu', join(wrapper('bin-wget-lo11', 'wget', '--bind-address=127.0.0.11'), 'wget'));
    sh(tail(await kickstart('lo11', macPath('lo11'))).replace('/etc/ssh/', `${one}/etc/ssh/`), { PATH: `${gnu}:${process.env.PATH}` });
    assert.deepEqual(await recorded('lo11', [fpOf(hostEc)]), [fpOf(hostEc)]);
    const b = JSON.parse((await call('/api/v1/hosts/lo11')).body) as { boot: { mode: string; lastInstall: string } };
    assert.deepEqual([b.boot.mode, b.boot.lastInstall], ['local', 'done']);
  });

  it("the image installer's done call posts its host keys with busybox wget", { skip: busybox ? false : 'no busybox' }, async () => {
    const script = await kickstart('lo14', macPath('lo14'));
    const between = (from: string, to: RegExp) => {
      const a = script.indexOf(from);
      assert.ok(a >= 0, from);
      const m = to.exec(script.slice(a));
      assert.ok(m, String(to));
      return script.slice(a, a + m.index + m[0].length);
    };
    const doneUrl = /^DONE_URL='(.*)'$/m.exec(script)?.[1];
    assert.ok(doneUrl);
    // The key collection of the identity step and the done call of the finish step, as written.
    const steps = `${between(': >/tmp/host-keys', /\n  done\n/)}${between('  ok=\n', /\n  \[ -n "\$ok" \][^\n]*\n/)}`;
    const root = sshDir('target-image', [`${hostEd.key}.pub`, `${hostEc.key}.pub`]);
    const work = join(dir, 'image-tmp');
    mkdirSync(work);
    const run = `log() { echo "3rc-install: $*"; }\ndie() { log "ERROR: $*"; exit 1; }\nT='${root}'\nDONE_URL='${doneUrl}'\n${steps.replaceAll('/tmp/', `${work}/`)}`;
    const out = execFileSync(busybox!, ['sh', '-c', run], { env: { ...process.env, PATH: `${stubs('bin-busybox', busybox!)}:${process.env.PATH}` }, encoding: 'utf8' });
    assert.match(out, /^3rc-install: ssh host key: ssh-ed25519 /m);
    assert.deepEqual(JSON.parse(readFileSync(join(work, 'done.out'), 'utf8')), { host: 'lo14', result: 'done', boot: 'local', hostKeys: 2 });
    assert.deepEqual(await recorded('lo14', [fpOf(hostEd), fpOf(hostEc)]), [fpOf(hostEd), fpOf(hostEc)]);
  });

  it('the learned keys survive a kill -9 in the store, and SshPool accepts the learned keys only', async () => {
    await s.kill9();
    const store = SqliteStore.open({ path: join(cfg.dir, '3rc.db') });
    try {
      const rec = await store.getHostKeys('lo5');
      assert.deepEqual(rec?.keys.map((k) => `${k.keyType} ${k.base64}`), [keyOf(hostEd.pub), keyOf(hostEc.pub)]);
      assert.equal(rec?.address, '127.0.0.5');
      assert.deepEqual((await store.getHostKeys('lo11'))?.keys.map((k) => `${k.keyType} ${k.base64}`), [keyOf(hostEc.pub)]);
      if (noSshd) return;
      const authorized = join(dir, 'authorized_keys');
      writeFileSync(authorized, `${client.pub}\n`);
      const sshd = await startSshd({ dir: join(dir, 'sshd'), address: '127.0.0.5', hostKeys: [hostEd.key, hostEc.key], authorizedKeys: authorized, env: { HOME: dir }, port });
      const run = (t: SshTarget) => runOnNewConnection(t, 'echo learned');
      try {
        const target: SshTarget = { name: 'lo5', address: '127.0.0.5', port, user: 'root', keyFile: client.key, knownHostsFile: knownHosts, learnedKeys: learnedKeysOf(store, 'lo5') };
        // The operator's file names lo5 with its old key: the learned keys win.
        assert.equal(await run(target), 'learned\n');
        // The file alone (what 3rc had before the install) refuses this server.
        await assert.rejects(run({ ...target, learnedKeys: undefined }), { code: SshErrorCodes.HOST_KEY_MISMATCH });
      } finally {
        await sshd.stop();
      }
    } finally {
      await store.close();
    }
  });
});
