import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BmcFencer, buildFencer, CommandFencer, HostFencer } from './fence.js';
import { FakeBmc } from '../bmc/fake.js';

const dir = mkdtempSync(join(tmpdir(), '3rc-fence-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A stand-in for ipmitool: power state in a file per BMC; `off` may be told to fail.
const tool = join(dir, 'fake-ipmitool');
writeFileSync(tool, `#!/bin/sh
# fake-ipmitool BMC power off|status
f="${dir}/power-$1"
echo "$*" >> "${dir}/calls"
case "$3" in
  off) [ -e "${dir}/broken-$1" ] && { echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2; exit 1; }; echo off > "$f"; echo "Chassis Power Control: Down/Off" ;;
  status) [ -e "${dir}/broken-$1" ] && { echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2; exit 1; }; echo "Chassis Power is $(cat "$f" 2>/dev/null || echo on)" ;;
esac
`);
chmodSync(tool, 0o755);

const spec = { off: `${tool} {{bmc}} power off`, status: `${tool} {{bmc}} power status` };

describe('CommandFencer', () => {
  it('powers off, reads back, and says off only when the read-back says so', async () => {
    const f = new CommandFencer([{ name: 'hv1', address: '10.77.0.2', fence: { ...spec, vars: { bmc: 'bmc1' } } }]);
    assert.equal(await f.fence('hv1'), 'off');
    assert.match(readFileSync(join(dir, 'calls'), 'utf8'), /^bmc1 power off\nbmc1 power status\n$/);
    assert.equal(await f.fence('hv9'), 'unknown');
  });

  it('answers unknown when the BMC cannot be reached, and on when the read-back says on', async () => {
    writeFileSync(join(dir, 'broken-bmc2'), '');
    const f = new CommandFencer([
      { name: 'hv2', address: '10.77.0.3', fence: { ...spec, vars: { bmc: 'bmc2' } } },
      { name: 'hv3', address: '10.77.0.4', fence: { off: 'true', status: `${tool} {{bmc}} power status`, vars: { bmc: 'bmc3' } } },
    ]);
    assert.equal(await f.fence('hv2'), 'unknown');
    assert.equal(await f.fence('hv3'), 'on');
  });

  it('quotes every placeholder as one word', async () => {
    const f = new CommandFencer([{ name: 'hv4', address: '10.77.0.5', fence: { off: 'true', status: 'echo {{bmc}}', offPattern: '^x; echo off$', vars: { bmc: 'x; echo off' } } }]);
    // The value comes back literally (one word), not run as a second command.
    assert.equal(await f.fence('hv4'), 'off');
    const g = new CommandFencer([{ name: 'hv5', address: '10.77.0.6', fence: { off: 'true', status: 'echo {{bmc}}', offPattern: '^off$', vars: { bmc: '$(echo off)' } } }]);
    assert.equal(await g.fence('hv5'), 'on');
  });
});

describe('fencing through the BMC', () => {
  it('off only when the BMC reads back off; an error or a machine that stays on is not off', async () => {
    const ok = new FakeBmc('hv1');
    const down = new FakeBmc('hv2');
    down.down = true;
    const stuck = new FakeBmc('hv3');
    stuck.stuck = 'on';
    const f = new BmcFencer(new Map([['hv1', ok], ['hv2', down], ['hv3', stuck]]));
    assert.equal(await f.fence('hv1'), 'off');
    assert.deepEqual(ok.calls, ['off', 'status']);
    assert.equal(await f.fence('hv2'), 'unknown');
    assert.equal(await f.fence('hv3'), 'on');
    assert.equal(await f.fence('hv9'), 'unknown');
  });

  it('a hypervisor with a BMC is fenced through it, not through its fence commands; the others keep their commands', async () => {
    const bmc = new FakeBmc('hv1');
    const calls = join(dir, 'calls-both');
    const fence = { off: `echo off >> ${calls}`, status: 'echo off', vars: {} };
    const f = new HostFencer(
      new BmcFencer(new Map([['hv1', bmc]])),
      new CommandFencer([{ name: 'hv2', address: '10.77.0.3', fence }]),
    );
    assert.equal(await f.fence('hv1'), 'off');
    assert.deepEqual(bmc.calls, ['off', 'status']);
    assert.throws(() => readFileSync(calls, 'utf8'), /ENOENT/);
    assert.equal(await f.fence('hv2'), 'off');
    assert.equal(readFileSync(calls, 'utf8'), 'off\n');
    // What the HA controller records with the fence's outcome.
    assert.equal(f.via('hv1'), 'its BMC (fake)');
    assert.equal(f.via('hv2'), 'its fence command');
    assert.equal(f.via('hv3'), undefined);
  });

  it('buildFencer: none without bmc or fence; a BMC wins over fence commands', async () => {
    assert.equal(buildFencer([{ name: 'hv1', address: '10.77.0.2' }]), null);
    const pw = join(dir, 'bmc-pw');
    writeFileSync(pw, 'secret\n', { mode: 0o600 });
    const marker = join(dir, 'fence-ran');
    const f = buildFencer([
      // ipmitool against a port nothing answers on: the BMC path is taken (unknown), the command (which would say off) is not.
      { name: 'hv1', address: '10.77.0.2', fence: { off: `touch ${marker}`, status: 'echo off', vars: {}, timeout: 5000 }, bmc: { driver: 'ipmi', address: '127.0.0.1:9', user: 'admin', passwordFile: pw } },
    ]);
    assert.ok(f);
    assert.equal(await f.fence('hv1'), 'unknown');
    assert.throws(() => readFileSync(marker), /ENOENT/);
  });
});
