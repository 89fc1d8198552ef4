import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseLifecycle, parseStarts, virshWrapper } from './hypervisor.js';

const run = promisify(execFile);

describe("the lab hosts' virsh wrapper", () => {
  const dir = mkdtempSync(join(tmpdir(), '3rc-virsh-wrapper-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const real = join(dir, 'virsh.real');
  // The "real" virsh: records its arguments.
  writeFileSync(real, `#!/bin/sh\necho "$*" >> ${dir}/real.log\necho "Domain '$4' started"\n`, { mode: 0o755 });
  const wrapper = join(dir, 'virsh');
  writeFileSync(wrapper, virshWrapper(real, dir, 1), { mode: 0o755 });

  it('passes other commands through, logs starts, holds one until released', async () => {
    assert.equal((await run(wrapper, ['-c', 'qemu:///system', 'list'])).stdout, "Domain '' started\n");
    writeFileSync(join(dir, 'start-mode'), 'hold');
    const held = run(wrapper, ['-c', 'qemu:///system', 'start', 'vm14']);
    for (let i = 0; i < 100 && parseStarts(existsSync(join(dir, 'starts.log')) ? readFileSync(join(dir, 'starts.log'), 'utf8') : '').length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(readFileSync(join(dir, 'real.log'), 'utf8').split('\n').filter(Boolean), ['-c qemu:///system list'], 'the start is held');
    writeFileSync(join(dir, 'release'), '');
    assert.equal((await held).stdout, "Domain 'vm14' started\n");
    const [st] = parseStarts(readFileSync(join(dir, 'starts.log'), 'utf8'));
    assert.equal(st?.vm, 'vm14');
    assert.equal(st?.rc, 0);
    assert.ok(st!.started! >= st!.asked);
  });
});

describe("libvirt's lifecycle events", () => {
  it('parses virsh event --timestamp lines', () => {
    assert.deepEqual(parseLifecycle('hv1', "2026-01-02 03:04:05.678+0000: event 'lifecycle' for domain 'vm14': Started Booted"), { host: 'hv1', at: Date.UTC(2026, 0, 2, 3, 4, 5, 678), vm: 'vm14', event: 'Started' });
    assert.equal(parseLifecycle('hv1', "2026-01-02 03:04:05.678+0000: event 'reboot' for domain 'vm14'"), null);
    assert.equal(parseLifecycle('hv1', 'event loop timed out'), null);
  });
});
