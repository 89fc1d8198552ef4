import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { every, FakeClock } from './clock.js';
import { createLogger } from './log.js';
import { runSystemdNotify, SdNotify, watchdogInterval, type NotifyRunner } from './sd-notify.js';

const SYSTEMD = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000' };

function setup(env: NodeJS.ProcessEnv, run?: NotifyRunner) {
  const clock = new FakeClock();
  const calls: string[][] = [];
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s)) });
  const sockets: string[] = [];
  const runner: NotifyRunner = run ?? (async (args) => void calls.push(args));
  const n = new SdNotify(log, { env: { ...env }, pid: 4242, run: (args, socket) => { sockets.push(socket); if (run) calls.push(args); return runner(args, socket); }, ticker: (ms, fn) => every(clock, ms, fn) });
  return { clock, calls, lines, n, sockets };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('sd_notify through systemd-notify', () => {
  it('READY=1 with our pid, then WATCHDOG=1 every WATCHDOG_USEC/2', async () => {
    const { clock, calls, n, sockets } = setup(SYSTEMD);
    await n.ready();
    assert.deepEqual(calls, [['--pid=4242', 'READY=1']]);
    assert.deepEqual(sockets, ['/run/systemd/notify']);
    clock.advance(14_999);
    assert.equal(calls.length, 1, 'no ping before 15 s');
    clock.advance(1);
    await settle();
    clock.advance(15_000);
    await settle();
    assert.deepEqual(calls.slice(1), [['--pid=4242', 'WATCHDOG=1'], ['--pid=4242', 'WATCHDOG=1']]);
    await n.stopping();
    assert.deepEqual(calls.at(-1), ['--pid=4242', 'STOPPING=1']);
    assert.equal(clock.pending, 0, 'the ping timer is gone');
    clock.advance(60_000);
    assert.equal(calls.filter((c) => c[1] === 'WATCHDOG=1').length, 2);
  });

  it('nothing at all without NOTIFY_SOCKET (not started by systemd)', async () => {
    const { clock, calls, n } = setup({ WATCHDOG_USEC: '30000000' });
    await n.ready();
    clock.advance(120_000);
    await n.stopping();
    assert.deepEqual(calls, []);
    assert.equal(clock.pending, 0);
  });

  it('READY only when there is no watchdog, or it is for another pid', async () => {
    for (const env of [{ NOTIFY_SOCKET: '/x' }, { ...SYSTEMD, WATCHDOG_PID: '1' }, { ...SYSTEMD, WATCHDOG_USEC: 'nonsense' }, { ...SYSTEMD, WATCHDOG_USEC: '0' }]) {
      const { clock, calls, n } = setup(env);
      await n.ready();
      clock.advance(120_000);
      assert.deepEqual(calls, [['--pid=4242', 'READY=1']], JSON.stringify(env));
    }
    assert.equal(watchdogInterval({ ...SYSTEMD, WATCHDOG_PID: '4242' }, 4242), 15_000);
    assert.equal(watchdogInterval({ ...SYSTEMD, WATCHDOG_USEC: '1000' }, 1), 1, 'never a 0 ms interval');
  });

  it('takes NOTIFY_SOCKET and the watchdog variables out of the environment, so that no other child inherits them', () => {
    const env: NodeJS.ProcessEnv = { ...SYSTEMD, WATCHDOG_PID: '4242', PATH: '/usr/bin' };
    const n = new SdNotify(createLogger('silent'), { env, pid: 4242, run: async () => {} });
    assert.deepEqual(env, { PATH: '/usr/bin' });
    assert.equal(n.enabled, true);
  });

  it('a failed notification is logged, never thrown, and the pings go on', async () => {
    const { clock, calls, lines, n } = setup(SYSTEMD, async () => {
      throw new Error('systemd-notify: No such file or directory');
    });
    await n.ready();
    clock.advance(15_000);
    await settle();
    clock.advance(15_000);
    await settle();
    assert.deepEqual(calls.map((c) => c[1]), ['READY=1', 'WATCHDOG=1', 'WATCHDOG=1']);
    const failed = lines.filter((l) => l.msg === 'systemd notification failed');
    assert.equal(failed.length, 3);
    assert.match(String(failed[0]!.err), /No such file/);
  });

  it('a ping still running when the next is due: that one is skipped, with a warning', async () => {
    let release!: () => void;
    const { clock, calls, lines, n } = setup(SYSTEMD, (args) => (args[1] === 'WATCHDOG=1' ? new Promise<void>((r) => (release = r)) : Promise.resolve()));
    await n.ready();
    clock.advance(15_000);
    clock.advance(15_000);
    await settle();
    assert.equal(calls.filter((c) => c[1] === 'WATCHDOG=1').length, 1);
    assert.ok(lines.some((l) => String(l.msg).includes('previous ping has not finished')));
    release();
    await settle();
    clock.advance(15_000);
    assert.equal(calls.filter((c) => c[1] === 'WATCHDOG=1').length, 2, 'pings resume once it finished');
    await n.stopping();
  });

  const noTools = ['/usr/bin/systemd-notify', '/usr/bin/python3'].find((t) => !existsSync(t));
  it('the real systemd-notify delivers the messages to $NOTIFY_SOCKET', { skip: noTools && `needs ${noTools}` }, async () => {
    // Python plays systemd: a unix datagram socket (Node has none) that prints what it receives.
    const dir = mkdtempSync(join(tmpdir(), '3rc-notify-'));
    const sock = join(dir, 'notify');
    const py = spawn('python3', ['-c', `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(20)
print('listening', flush=True)
while True: print(repr(s.recv(4096).decode()), flush=True)`, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    const out = createInterface({ input: py.stdout! })[Symbol.asyncIterator]();
    try {
      assert.equal((await out.next()).value, 'listening');
      const lines: Record<string, unknown>[] = [];
      const n = new SdNotify(createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s)) }), { env: { NOTIFY_SOCKET: sock }, pid: 4242, run: runSystemdNotify });
      await n.ready();
      await n.stopping();
      assert.deepEqual(lines.filter((l) => l.level === 40), [], 'no failure logged');
      // READY=1 is followed by a BARRIER=1 (systemd-notify waits for systemd to have read it).
      let got = '';
      while (!got.includes('STOPPING=1')) got += ` ${(await out.next()).value}`;
      assert.match(got, /READY=1/);
      assert.match(got, /STOPPING=1/);
      assert.match(got, /MAINPID=4242/, '--pid names 3rc, not the systemd-notify child');
      // And without a listener: logged, not thrown.
      rmSync(sock);
      await n.ready();
      assert.equal(lines.filter((l) => l.msg === 'systemd notification failed').length, 1);
    } finally {
      py.kill();
      await out.return?.();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
