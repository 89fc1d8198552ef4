/**
 * The SSH runner, the libvirt driver and the command driver against a real OpenSSH server on
 * 127.0.0.1. The hypervisor tools are fakes (shell scripts first on the session PATH, see
 * fake-tools.ts) so this proves the SSH, quoting and parsing paths end to end; real libvirt is
 * exercised in its own lab test.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runDriverContract, type DriverFixture } from '../../src/hypervisor/contract.js';
import type { CommandSpec } from '../../src/lib/command-spec.js';
import { CommandDriver } from '../../src/hypervisor/command.js';
import { DriverErrorCodes, type HypervisorDriver } from '../../src/hypervisor/driver.js';
import { SshGuestAccess } from '../../src/hypervisor/guest.js';
import { LibvirtDriver } from '../../src/hypervisor/libvirt.js';
import { SshErrorCodes, SshPool, type SshTarget } from '../../src/hypervisor/ssh.js';
import { learnedKeysOf, storeHostKeySink } from '../../src/hypervisor/learned-keys.js';
import { parseReportedHostKeys } from '../../src/hypervisor/known-hosts-update.js';
import { systemClock } from '../../src/lib/clock.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { alive, keygen, runOnNewConnection, sshdUnavailable, startSshd, type Sshd } from './sshd.js';
import { makeHypervisorState, writeFakeTools } from './fake-tools.js';

const skip = sshdUnavailable();
if (skip) console.log(`# skipping SSH tests: ${skip}`);

/** Shared material: keys and the fake tools, made once. */
interface Keys {
  dir: string;
  hostEd: { key: string; pub: string };
  hostEcdsa: { key: string; pub: string };
  hostRsa: { key: string; pub: string };
  other: { key: string; pub: string };
  client: { key: string; pub: string };
  authorized: string;
  bin: string;
}

let keys: Keys | null = null;
function material(): Keys {
  if (keys) return keys;
  const dir = mkdtempSync(join(tmpdir(), '3rc-ssh-'));
  const k = {
    dir,
    hostEd: keygen(join(dir, 'host_ed25519'), 'ed25519'),
    hostEcdsa: keygen(join(dir, 'host_ecdsa'), 'ecdsa'),
    hostRsa: keygen(join(dir, 'host_rsa'), 'rsa'),
    other: keygen(join(dir, 'other_ed25519'), 'ed25519'),
    client: keygen(join(dir, 'client_ed25519'), 'ed25519'),
    authorized: join(dir, 'authorized_keys'),
    bin: writeFakeTools(dir),
  };
  writeFileSync(k.authorized, `${k.client.pub}\n`);
  keys = k;
  return k;
}

/** A known_hosts line for 127.0.0.1 on port from a public key line ("type base64 comment"). */
function khLine(port: number, pub: string, host = '127.0.0.1'): string {
  const [type, b64] = pub.split(' ');
  return `[${host}]:${port} ${type} ${b64}`;
}

let seq = 0;
function tempDir(name: string): string {
  return join(material().dir, `${name}-${seq++}`);
}

/** One sshd standing for one hypervisor, with its fake state. */
async function hypervisor(vms: string[]): Promise<{ sshd: Sshd; state: string; knownHosts: string }> {
  const k = material();
  const dir = tempDir('hv');
  const state = makeHypervisorState(join(dir, 'state'), vms);
  const sshd = await startSshd({
    dir,
    hostKeys: [k.hostEd.key, k.hostEcdsa.key, k.hostRsa.key],
    authorizedKeys: k.authorized,
    // HOME: a login shell sources ~/.bashrc for SSH commands; this machine's may be slow or odd.
    env: { PATH: `${k.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, FAKE_HV_STATE: state, HOME: dir },
  });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${khLine(sshd.port, k.hostEd.pub)}\n`);
  return { sshd, state, knownHosts };
}

describe('SSH runner against a real sshd', { skip: skip ?? false }, () => {
  let hv: Awaited<ReturnType<typeof hypervisor>>;
  let pool: SshPool;
  let target: SshTarget;

  before(async () => {
    hv = await hypervisor([]);
    pool = new SshPool({ connectTimeoutMs: 5000, idleCloseMs: 60_000 });
    target = { name: 'hv1', address: '127.0.0.1', port: hv.sshd.port, user: 'root', keyFile: material().client.key, knownHostsFile: hv.knownHosts };
  });
  after(async () => {
    pool?.closeAll();
    await hv?.sshd.stop();
  });

  it('runs a command and returns exit status, stdout and stderr', async () => {
    const r = await pool.run(target, `printf 'out\\n'; printf 'err\\n' >&2; exit 3`, { timeoutMs: 10_000 });
    assert.deepEqual(r, { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
    const ok = await pool.run(target, 'echo "$FAKE_HV_STATE"', { timeoutMs: 10_000 });
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout.trim(), hv.state);
  });

  it('reuses one connection for several commands, also concurrent ones', async () => {
    const own = new SshPool({ idleCloseMs: 60_000 });
    const before = (hv.sshd.log().match(/Accepted publickey/g) ?? []).length;
    try {
      // More at once than sshd's MaxSessions (10): the pool queues them on the one connection.
      const ids = Array.from({ length: 14 }, (_, i) => String(i));
      const rs = await Promise.all(ids.map((i) => own.run(target, `echo ${i}`, { timeoutMs: 10_000 })));
      assert.deepEqual(rs.map((r) => r.stdout.trim()), ids);
      await own.run(target, 'true', { timeoutMs: 10_000 });
      assert.equal((hv.sshd.log().match(/Accepted publickey/g) ?? []).length - before, 1);
    } finally {
      own.closeAll();
    }
  });

  it('closes an idle connection and opens a new one when needed', async () => {
    const own = new SshPool({ idleCloseMs: 50 });
    const logins = () => (hv.sshd.log().match(/Accepted publickey/g) ?? []).length;
    try {
      const l0 = logins();
      await own.run(target, 'true', { timeoutMs: 10_000 });
      for (let i = 0; i < 400 && own.openConnections > 0; i++) await sleep(25);
      assert.equal(own.openConnections, 0, 'the idle connection was closed');
      await own.run(target, 'true', { timeoutMs: 10_000 });
      assert.equal(own.openConnections, 1);
      assert.equal(logins() - l0, 2);
    } finally {
      own.closeAll();
    }
  });

  it('kills a command that runs past its timeout, with its children', async () => {
    const pidFile = join(material().dir, `sleep-${seq++}.pid`);
    await assert.rejects(pool.run(target, `sleep 30 & echo $! > ${pidFile}; wait`, { timeoutMs: 500 }), { code: SshErrorCodes.TIMEOUT });
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(pid > 0);
    for (let i = 0; i < 200 && alive(pid); i++) await sleep(25);
    assert.equal(alive(pid), false, 'the remote sleep 30 was killed');
    // The connection still works after a timed-out command.
    assert.equal((await pool.run(target, 'echo ok', { timeoutMs: 10_000 })).stdout, 'ok\n');
  });

  it('refuses a host whose key differs from the known_hosts entry', async () => {
    const kh = join(material().dir, `kh-wrong-${seq++}`);
    writeFileSync(kh, `${khLine(hv.sshd.port, material().other.pub)}\n`);
    await assert.rejects(pool.run({ ...target, knownHostsFile: kh }, 'true', { timeoutMs: 10_000 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, SshErrorCodes.HOST_KEY_MISMATCH);
      assert.match(err.message, /hv1/);
      assert.ok(err.message.includes(kh), err.message);
      return true;
    });
  });

  it('refuses a host that has no known_hosts entry, or no known_hosts file', async () => {
    const kh = join(material().dir, `kh-missing-${seq++}`);
    // Same key, but for another port and another address: neither names this host.
    writeFileSync(kh, `${khLine(hv.sshd.port + 1, material().hostEd.pub)}\n${khLine(hv.sshd.port, material().hostEd.pub, '127.0.0.2')}\n`);
    await assert.rejects(pool.run({ ...target, knownHostsFile: kh }, 'true', { timeoutMs: 10_000 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, SshErrorCodes.HOST_UNKNOWN);
      assert.ok(err.message.includes('hv1') && err.message.includes(kh), err.message);
      return true;
    });
    await assert.rejects(pool.run({ ...target, knownHostsFile: join(material().dir, 'no-such-file') }, 'true', { timeoutMs: 10_000 }), { code: SshErrorCodes.KNOWN_HOSTS });
    await assert.rejects(pool.run({ ...target, knownHostsFile: undefined }, 'true', { timeoutMs: 10_000 }), { code: SshErrorCodes.KNOWN_HOSTS });
  });

  it('refuses a key listed as @revoked even when another line accepts it', async () => {
    const kh = join(material().dir, `kh-revoked-${seq++}`);
    const [type, b64] = material().hostEd.pub.split(' ');
    writeFileSync(kh, `${khLine(hv.sshd.port, material().hostEd.pub)}\n@revoked * ${type} ${b64}\n`);
    await assert.rejects(pool.run({ ...target, knownHostsFile: kh }, 'true', { timeoutMs: 10_000 }), { code: SshErrorCodes.HOST_KEY_MISMATCH });
  });

  it('checks a guest against the host keys learned in the store: the learned key accepted, a wrong one refused', async () => {
    const store = SqliteStore.open({ path: join(tempDir('store'), '3rc.db') });
    const learn = (pub: string) => storeHostKeySink(store, systemClock).learn({ name: 'hv1', ip: '127.0.0.1' }, parseReportedHostKeys(pub.split(' ').slice(0, 2).join(' ')).keys);
    // A new connection each time (a pooled one would skip the check).
    const run = (t: SshTarget) => runOnNewConnection(t, 'echo ok');
    try {
      const guest: SshTarget = { ...target, knownHostsFile: undefined, learnedKeys: learnedKeysOf(store, 'hv1') };
      await assert.rejects(run(guest), { code: SshErrorCodes.HOST_UNKNOWN });
      await learn(material().hostEd.pub);
      assert.equal(await run(guest), 'ok\n');
      // A wrong key learned (the store says another key): refused, naming the store.
      await learn(material().other.pub);
      await assert.rejects(run(guest), (err: Error & { code?: string }) => {
        assert.equal(err.code, SshErrorCodes.HOST_KEY_MISMATCH);
        assert.match(err.message, /learned .*store/);
        return true;
      });
      // The operator's file accepts this server's key, but the learned record is the host's whole set.
      await assert.rejects(run({ ...guest, knownHostsFile: hv.knownHosts }), { code: SshErrorCodes.HOST_KEY_MISMATCH });
      // The file's @revoked lines still refuse a learned key.
      await learn(material().hostEd.pub);
      const revoked = join(material().dir, `kh-revoked-learned-${seq++}`);
      const [type, b64] = material().hostEd.pub.split(' ');
      writeFileSync(revoked, `@revoked * ${type} ${b64}\n`);
      await assert.rejects(run({ ...guest, knownHostsFile: revoked }), { code: SshErrorCodes.HOST_KEY_MISMATCH });
      assert.equal(await run({ ...guest, knownHostsFile: hv.knownHosts }), 'ok\n');
    } finally {
      await store.close();
    }
  });

  it('accepts hashed entries (ssh-keygen -H), and the inventory name as well as the address', async () => {
    const kh = join(material().dir, `kh-hashed-${seq++}`);
    writeFileSync(kh, `${khLine(hv.sshd.port, material().hostEd.pub, 'hv1')}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
    const text = readFileSync(kh, 'utf8');
    assert.match(text, /^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /);
    assert.ok(!text.includes('hv1'));
    const r = await pool.run({ ...target, knownHostsFile: kh }, 'echo hashed', { timeoutMs: 10_000 });
    assert.equal(r.stdout, 'hashed\n');
  });

  for (const kind of ['ecdsa', 'rsa'] as const) {
    it(`checks an ${kind} host key when known_hosts holds only that`, async () => {
      const kh = join(material().dir, `kh-${kind}-${seq++}`);
      const k = kind === 'ecdsa' ? material().hostEcdsa : material().hostRsa;
      writeFileSync(kh, `${khLine(hv.sshd.port, k.pub)}\n`);
      assert.equal((await pool.run({ ...target, knownHostsFile: kh }, 'echo ok', { timeoutMs: 10_000 })).stdout, 'ok\n');
      const wrong = join(material().dir, `kh-${kind}-wrong-${seq++}`);
      const otherKind = keygen(join(material().dir, `other-${kind}-${seq++}`), kind);
      writeFileSync(wrong, `${khLine(hv.sshd.port, otherKind.pub)}\n`);
      await assert.rejects(pool.run({ ...target, knownHostsFile: wrong }, 'true', { timeoutMs: 10_000 }), { code: SshErrorCodes.HOST_KEY_MISMATCH });
    });
  }

  it('refuses a client key the server does not accept; names a key it cannot use', async () => {
    await assert.rejects(pool.run({ ...target, keyFile: material().other.key }, 'true', { timeoutMs: 10_000 }), { code: SshErrorCodes.AUTH });
    const garbage = join(material().dir, `garbage-key-${seq++}`);
    writeFileSync(garbage, 'not a key\n');
    await assert.rejects(pool.run({ ...target, keyFile: garbage }, 'true', { timeoutMs: 10_000 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, SshErrorCodes.KEY);
      assert.ok(err.message.includes(garbage), err.message);
      return true;
    });
    await assert.rejects(pool.run({ ...target, keyFile: undefined }, 'true', { timeoutMs: 10_000 }), { code: SshErrorCodes.KEY });
  });

  it('answers CONNECT for a port nobody listens on', async () => {
    const dead = await startSshd({ dir: tempDir('dead'), hostKeys: [material().hostEd.key], authorizedKeys: material().authorized });
    const port = dead.port;
    await dead.stop();
    const kh = join(material().dir, `kh-dead-${seq++}`);
    writeFileSync(kh, `${khLine(port, material().hostEd.pub)}\n`);
    await assert.rejects(pool.run({ ...target, port, knownHostsFile: kh }, 'true', { timeoutMs: 10_000 }), { code: SshErrorCodes.CONNECT });
  });

  it('reboot: a dropped connection counts as started; a refused command does not', async () => {
    // The command kills its own sshd session process: the connection drops with no exit status.
    assert.equal(await pool.reboot(target, { command: 'kill -9 $PPID; sleep 5', timeoutMs: 10_000 }), 'started');
    assert.equal(await pool.reboot(target, { command: 'exit 0', timeoutMs: 10_000 }), 'started');
    assert.equal(await pool.reboot(target, { command: 'echo "reboot: permission denied" >&2; exit 1', timeoutMs: 10_000 }), 'unreachable');
    assert.equal(await pool.reboot({ ...target, knownHostsFile: undefined }, { command: 'exit 0', timeoutMs: 10_000 }), 'unreachable');
    // The pool recovered from the dropped connection.
    assert.equal((await pool.run(target, 'echo again', { timeoutMs: 10_000 })).stdout, 'again\n');
    const guests = new SshGuestAccess(pool, (vm) => (vm === 'vm1' ? target : undefined), { command: 'kill -9 $PPID; sleep 5' });
    assert.equal(await guests.reboot('vm1'), 'started');
    assert.equal(await guests.reboot('vm2'), 'unreachable');
  });
});

// ---- the drivers through the shared contract --------------------------------------------------

const QM_SPEC: CommandSpec = {
  commands: { list: 'qm list', state: 'qm status {{vm}}', start: 'qm start {{vm}}', stop: 'qm stop {{vm}}', reset: 'qm reset {{vm}}' },
  listPattern: String.raw`^\s*\d+\s+(?<name>\S+)\s+(?<state>\S+)`,
  statePattern: String.raw`^status:\s*(?<state>\S+)`,
};

/** Two hypervisors (two sshd), vm1 defined and off on the first; cut = kill that sshd. */
async function fixture(makeDriver: (hvs: { name: string; address: string; ssh: { user: string; port: number; key: string; knownHosts: string } }[], pool: SshPool) => HypervisorDriver): Promise<DriverFixture & { state: string }> {
  const a = await hypervisor(['vm1']);
  const b = await hypervisor(['vm1']);
  const pool = new SshPool({ connectTimeoutMs: 5000 });
  const key = material().client.key;
  const driver = makeDriver(
    [
      { name: 'hv1', address: '127.0.0.1', ssh: { user: 'root', port: a.sshd.port, key, knownHosts: a.knownHosts } },
      { name: 'hv2', address: '127.0.0.1', ssh: { user: 'root', port: b.sshd.port, key, knownHosts: b.knownHosts } },
    ],
    pool,
  );
  return {
    driver,
    hosts: ['hv1', 'hv2'],
    vm: 'vm1',
    state: a.state,
    cut: (h) => (h === 'hv1' ? a : b).sshd.stop(),
    async close() {
      pool.closeAll();
      await a.sshd.stop();
      await b.sshd.stop();
    },
  };
}

// A skip is a visible test with its reason, not a suite that is never registered.
if (skip) it('HypervisorDriver contract: libvirt and command drivers over a real sshd', { skip }, () => undefined);
else {
  // Two fake hypervisors cannot hand a domain over: the HA lab's real libvirtd hosts run the migration cases.
  const noFakeMigration = { skip: 'the fake virsh hosts share no state to migrate through (the HA lab runs it on real libvirtd)' };
  runDriverContract('libvirt over a real sshd, fake virsh', { make: async () => ({ ...(await fixture((hypervisors, ssh) => new LibvirtDriver({ ssh, hypervisors, timeoutMs: 10_000 }))), migration: noFakeMigration }) });
  runDriverContract('command (qm templates) over a real sshd, fake qm', {
    // No `migrate` template in the set: MIGRATION_UNSUPPORTED.
    make: async () => ({ ...(await fixture((hypervisors, ssh) => new CommandDriver({ ssh, hypervisors: hypervisors.map((h) => ({ ...h, command: QM_SPEC })), timeoutMs: 10_000 }))), migration: 'unsupported' as const }),
  });
}

describe('libvirt driver: what reaches virsh', { skip: skip ?? false }, () => {
  it('runs virsh -c qemu:///system with LC_ALL=C, and refuses names that are not plain', async () => {
    const f = await fixture((hypervisors, ssh) => new LibvirtDriver({ ssh, hypervisors, timeoutMs: 10_000 }));
    try {
      await f.driver.start('hv1', 'vm1');
      await f.driver.destroy('hv1', 'vm1');
      const calls = readFileSync(join(f.state, 'calls'), 'utf8').trim().split('\n');
      assert.deepEqual(calls, ['LC_ALL=C virsh -c qemu:///system start vm1', 'LC_ALL=C virsh -c qemu:///system destroy vm1']);
      for (const bad of ["vm1'; touch /tmp/3rc-pwned; '", '-vm', 'vm 1', '$(id)', '']) {
        await assert.rejects(f.driver.start('hv1', bad), { code: DriverErrorCodes.FAILED });
      }
      assert.equal(readFileSync(join(f.state, 'calls'), 'utf8').trim().split('\n').length, 2, 'nothing ran for refused names');
    } finally {
      await f.close?.();
    }
  });

  it('maps a changed host key to FAILED (never UNREACHABLE: no reason to fence), naming the file', async () => {
    let kh = '';
    const f = await fixture((hypervisors, ssh) => {
      kh = hypervisors[0]!.ssh.knownHosts;
      writeFileSync(kh, `${khLine(hypervisors[0]!.ssh.port, material().other.pub)}\n`);
      return new LibvirtDriver({ ssh, hypervisors, timeoutMs: 10_000 });
    });
    try {
      assert.equal(await f.driver.reachable('hv1'), false);
      await assert.rejects(f.driver.listVms('hv1'), (err: Error & { code?: string }) => {
        assert.equal(err.code, DriverErrorCodes.FAILED);
        assert.ok(err.message.includes(kh), err.message);
        return true;
      });
      assert.equal(await f.driver.reachable('hv2'), true);
    } finally {
      await f.close?.();
    }
  });

  it('maps a daemon that does not answer to UNREACHABLE and reachable() false', async () => {
    const f = await fixture((hypervisors, ssh) => new LibvirtDriver({ ssh, hypervisors, timeoutMs: 10_000 }));
    try {
      rmSync(join(f.state, 'domains'), { recursive: true }); // the fake virsh then cannot "connect"
      assert.equal(await f.driver.reachable('hv1'), false);
      await assert.rejects(f.driver.listVms('hv1'), { code: DriverErrorCodes.UNREACHABLE });
    } finally {
      await f.close?.();
    }
  });
});

after(() => {
  if (keys) rmSync(keys.dir, { recursive: true, force: true });
});
