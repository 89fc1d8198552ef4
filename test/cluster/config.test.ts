/**
 * `store.kind: etcd` in the config, through the real `3rc check-config`: the defaults, and each
 * bad value refused with its field named (and every problem at once).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { cli, LAB_YAML } from '../lib/serve.js';

const dir = mkdtempSync(join(tmpdir(), '3rc-etcd-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const base = parse(readFileSync(LAB_YAML, 'utf8')) as Record<string, unknown>;
let n = 0;

function write(store: unknown): string {
  const file = join(dir, `c${n++}.yaml`);
  // Beside lab.yaml's own folder layout: relative paths of the example still resolve.
  writeFileSync(file, stringify({ ...base, store, paths: { boot: join(dir, 'boot') } }));
  return file;
}

describe('config: store.kind etcd', () => {
  it('takes the defaults: prefix /3rc/, lease TTL 5 s; SQLite stays the default store', () => {
    const c = parseConfig(stringify({ ...base, store: { kind: 'etcd', etcd: { endpoints: ['10.77.200.1:2379', 'https://etcd2:2379'] } } }), join(dir, 'x.yaml'));
    assert.equal(c.store.kind, 'etcd');
    assert.deepEqual(c.store.etcd, { endpoints: ['10.77.200.1:2379', 'https://etcd2:2379'], prefix: '/3rc/', leaseTtl: 5000 });
    const plain = parseConfig(readFileSync(LAB_YAML, 'utf8'), LAB_YAML);
    assert.equal(plain.store.kind, 'sqlite');
    assert.equal(plain.store.etcd, undefined);
  });

  it('check-config refuses bad etcd settings, naming each field', async () => {
    const file = write({ kind: 'etcd', etcd: { endpoints: ['10.77.200.1', 'etcd:99999'], prefix: '3rc', leaseTtl: '1500ms', tls: { ca: 'ca.pem', cert: 'c.pem' }, bogus: 1 } });
    const r = await cli(['check-config', file]);
    assert.equal(r.code, 1, r.stdout);
    const lines = r.stderr.trim().split('\n');
    const has = (path: string, what: RegExp) => assert.ok(lines.some((l) => l.includes(`: ${path}: `) && what.test(l)), `no problem for ${path} matching ${what}:\n${r.stderr}`);
    has('store.etcd.endpoints[0]', /expected an etcd endpoint like 10\.77\.200\.1:2379/);
    has('store.etcd.endpoints[1]', /port from 1 to 65535/);
    has('store.etcd.prefix', /starts and ends with \//);
    has('store.etcd.leaseTtl', /whole seconds, at least 2s/);
    has('store.etcd.bogus', /unknown field "bogus"/);
  });

  it('check-config refuses etcd without its settings, settings without etcd, and half a client certificate', async () => {
    for (const [store, path, what] of [
      [{ kind: 'etcd' }, 'store.etcd', /needs store\.etcd with its endpoints/],
      [{ kind: 'sqlite', etcd: { endpoints: ['10.77.200.1:2379'] } }, 'store.etcd', /applies only to store\.kind etcd/],
      [{ kind: 'etcd', etcd: { endpoints: ['10.77.200.1:2379'], tls: { ca: 'ca.pem', key: 'k.pem' } } }, 'store.etcd.tls.cert', /both cert and key/],
      [{ kind: 'etcd', etcd: { endpoints: [] } }, 'store.etcd.endpoints', /at least one etcd endpoint/],
      [{ kind: 'zookeeper' }, 'store.kind', /expected one of "sqlite", "etcd"/],
    ] as const) {
      const r = await cli(['check-config', write(store)]);
      assert.equal(r.code, 1, `${JSON.stringify(store)} accepted`);
      assert.ok(r.stderr.split('\n').some((l) => l.includes(`: ${path}: `) && what.test(l)), `${JSON.stringify(store)}:\n${r.stderr}`);
    }
  });
});
