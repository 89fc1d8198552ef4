/**
 * 3rc's TFTP server in a network namespace, reached over a veth link from another namespace
 * (10.77.200.0/24, no route out): the standard port 69, real clients, files byte-identical.
 * Needs root; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Lab, netnsUnavailable } from '../lib/netns.js';
import { BIN, writeLabConfig } from '../lib/serve.js';

const why = netnsUnavailable();
if (why) console.log(`# tftp netns test skipped: ${why}`);

test('TFTP on port 69 across a veth link: curl, tftp-hpa and atftp get identical files', { skip: why, timeout: 60_000 }, async () => {
  const lab = new Lab('tf');
  const cfg = await writeLabConfig({ servers: { tftp: { listen: '10.77.200.1', port: 69 } } });
  try {
    const boot = join(cfg.dir, 'boot');
    mkdirSync(boot, { recursive: true });
    const data = randomBytes(700_000);
    writeFileSync(join(boot, 'kernel'), data);
    const srv = lab.netns('srv');
    const cli = lab.netns('cli');
    lab.link(srv, '10.77.200.1/24', cli, '10.77.200.2/24');
    const child = lab.spawn(srv, process.execPath, [BIN, 'serve', '--config', cfg.file]);
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      let err = '';
      const t = setTimeout(() => reject(new Error(`3rc serve not ready in the namespace: ${err}`)), 20_000);
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('"msg":"3rc ready"')) {
          clearTimeout(t);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`3rc serve exited (${code}): ${err}`)));
    });
    const out = join(cfg.dir, 'got');
    lab.exec(cli, 'curl', ['-sS', '--max-time', '20', '--tftp-blksize', '1468', '-o', out, 'tftp://10.77.200.1/kernel']);
    assert.ok(readFileSync(out).equals(data), 'curl');
    lab.exec(cli, 'tftp', ['10.77.200.1', '-m', 'binary', '-c', 'get', 'kernel', `${out}2`]);
    assert.ok(readFileSync(`${out}2`).equals(data), 'tftp-hpa');
    lab.exec(cli, 'atftp', ['--option', 'windowsize 8', '--option', 'blksize 1468', '-g', '-r', 'kernel', '-l', `${out}3`, '10.77.200.1']);
    assert.ok(readFileSync(`${out}3`).equals(data), 'atftp windowsize 8');
    const cfgText = lab.exec(cli, 'curl', ['-sS', '--max-time', '10', 'tftp://10.77.200.1/pxelinux.cfg/01-52-54-00-77-00-10']);
    assert.match(cfgText, /vm10/);
  } finally {
    await lab.destroy();
    cfg.cleanup();
  }
});
