import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../main.js';
import type { Io } from '../io.js';

const dir = mkdtempSync(join(tmpdir(), '3rc-import-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), env: {} };
  return { code: await main(args, io), out, err };
}

describe('3rc import (command)', () => {
  const conf = join(dir, 'dnsmasq.conf');
  writeFileSync(conf, 'dhcp-range=10.77.0.0,static,255.255.255.0\ndhcp-host=52:54:00:77:00:10,10.77.0.10,vm10\nlog-dhcp\n');

  it('prints the config on stdout and each line left out on stderr, exit 0', async () => {
    const r = await run(['import', 'dnsmasq', conf]);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(r.out.join('\n'), /hosts:\n {2}- name: vm10\n {4}mac: 52:54:00:77:00:10/);
    assert.ok(r.err.includes(`${conf}:3: log-dhcp has no 3rc equivalent, left out`), r.err.join('\n'));
  });

  it('exit 1 for an unreadable file or nothing to import; exit 2 for an unknown format', async () => {
    const missing = await run(['import', 'dhcpd', join(dir, 'nope.conf')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err.join('\n'), /cannot read .*nope\.conf: file not found/);
    const empty = join(dir, 'empty.conf');
    writeFileSync(empty, 'authoritative;\n');
    const nothing = await run(['import', 'dhcpd', empty]);
    assert.equal(nothing.code, 1);
    assert.ok(nothing.err.includes(`${empty}:1: authoritative; has no 3rc equivalent, left out`));
    assert.match(nothing.err.at(-1)!, /nothing in .* could be imported/);
    assert.equal((await run(['import', 'bind', conf])).code, 2);
  });

  it('--merge writes into the config, and on a conflict lists it and changes nothing', async () => {
    const cfg = join(dir, 'config.yaml');
    const text = '# mine\nnetwork:\n  domain: lab.test\n  serverIp: 10.77.0.1\n  subnets: [{ cidr: 10.77.0.0/24 }]\nprofiles: [{ name: p, installer: image, kernel: k, initrd: i }]\nhosts:\n  - { name: vm10, mac: 52:54:00:77:00:99, ip: 10.77.0.99, profile: p }\n';
    writeFileSync(cfg, text);
    const refused = await run(['import', 'dnsmasq', conf, '--merge', cfg]);
    assert.equal(refused.code, 1);
    assert.ok(refused.err.some((l) => l.startsWith('conflict: host vm10 (52:54:00:77:00:10, 10.77.0.10): same name vm10')), refused.err.join('\n'));
    assert.equal(readFileSync(cfg, 'utf8'), text);

    writeFileSync(cfg, text.replace('name: vm10', 'name: other'));
    const merged = await run(['import', 'dnsmasq', conf, '--merge', cfg]);
    assert.equal(merged.code, 0, merged.err.join('\n'));
    const after = readFileSync(cfg, 'utf8');
    assert.match(after, /^# mine\n/);
    assert.match(after, /name: vm10\n\s+mac: 52:54:00:77:00:10/);
    assert.equal((await run(['check-config', cfg])).code, 0);
  });
});
