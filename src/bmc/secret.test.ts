import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { readFileSync } from 'node:fs';
import { packageRoot } from '../lib/paths.js';
import { parseConfig } from '../config/load.js';
import { readSecret, secretFileWarning } from './secret.js';
import { openBmc } from './open.js';
import type { Logger } from '../lib/log.js';

const dir = mkdtempSync(join(tmpdir(), '3rc-bmc-secret-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('BMC password files', () => {
  it('0600 is quiet; readable by group or others warns; a missing file says so', () => {
    const ok = join(dir, 'ok');
    writeFileSync(ok, 'pw\n', { mode: 0o600 });
    assert.equal(secretFileWarning(ok), null);
    const loose = join(dir, 'loose');
    writeFileSync(loose, 'pw\n', { mode: 0o644 });
    assert.match(secretFileWarning(loose)!, /mode 0644; it should be 0600/);
    assert.match(secretFileWarning(join(dir, 'none'))!, /cannot be read/);
    assert.equal(readSecret('hv1', ok), 'pw');
    assert.throws(() => readSecret('hv1', join(dir, 'none')), { code: 'E_BMC_SECRET' });
  });

  it('opening a driver logs the warning for a loose file', () => {
    const loose = join(dir, 'loose2');
    writeFileSync(loose, 'pw\n', { mode: 0o640 });
    const warnings: string[] = [];
    const log = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
    openBmc({ host: 'hv1', driver: 'ipmi', address: '10.77.9.2', user: 'admin', passwordFile: loose }, { log });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /0640/);
  });
});

describe('config: bmc on a hypervisor', () => {
  const lab = readFileSync(join(packageRoot(), 'examples', 'lab.yaml'), 'utf8');
  const withBmc = (bmc: unknown) => {
    const doc = parseDocument(lab);
    doc.setIn(['hypervisors', 0, 'bmc'], bmc);
    return doc.toString();
  };

  it('takes driver, address, user, passwordFile and caFile', () => {
    const c = parseConfig(withBmc({ driver: 'redfish', address: '10.77.9.2:8443', user: 'root', passwordFile: '/etc/3rc/bmc-hv1', caFile: '/etc/3rc/bmc-ca.pem' }), 'lab.yaml');
    assert.deepEqual(c.hypervisors[0]!.bmc, { driver: 'redfish', address: '10.77.9.2:8443', user: 'root', passwordFile: '/etc/3rc/bmc-hv1', caFile: '/etc/3rc/bmc-ca.pem' });
  });

  it('refuses an inline password and an unknown driver', () => {
    assert.throws(() => parseConfig(withBmc({ driver: 'ipmi', address: '10.77.9.2', user: 'admin', password: 'hunter2', passwordFile: '/p' }), 'lab.yaml'), /password/);
    assert.throws(() => parseConfig(withBmc({ driver: 'ipmi', address: '10.77.9.2', user: 'admin' }), 'lab.yaml'), /passwordFile/);
    assert.throws(() => parseConfig(withBmc({ driver: 'amt', address: '10.77.9.2', user: 'admin', passwordFile: '/p' }), 'lab.yaml'), /driver/);
  });
});
