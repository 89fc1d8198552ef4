import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CommandFencer } from './fence.js';

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
