/**
 * Golden tests: packets captured from real clients (test/dhcp/capture.ts) decode to the checked-in
 * text dumps, and re-encode to the same options. UPDATE_GOLDEN=1 rewrites the dumps (review the
 * diff). qemu iPXE ROM and OVMF captures are added by the lab issue.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../lib/paths.js';
import { dumpPacket } from './dump.js';
import { F, getField, messageTypeName } from './options.js';
import { clientMac, decode, encode } from './packet.js';

const DIR = join(packageRoot(), 'src', 'dhcp', 'testdata');
const files = readdirSync(DIR).filter((f) => f.endsWith('.hex')).sort();

describe('dhcp codec: packets captured from real clients', () => {
  it('has captures of dhclient and udhcpc DISCOVER and REQUEST', () => {
    for (const c of ['dhclient', 'udhcpc']) for (const t of ['discover', 'request']) assert.ok(files.includes(`${c}-${t}.hex`), `${c}-${t}.hex missing`);
  });

  for (const f of files) {
    it(f, () => {
      const bytes = Uint8Array.from(Buffer.from(readFileSync(join(DIR, f), 'utf8').replace(/\s+/g, ''), 'hex'));
      const p = decode(bytes);
      const [, type] = /^[a-z0-9]+-([a-z]+)(-\d+)?\.hex$/.exec(f)!;
      assert.equal(messageTypeName(getField(p.options, F.messageType)), type);
      assert.equal(clientMac(p), '52:54:00:77:00:10');
      const dump = dumpPacket(p);
      const golden = join(DIR, f.replace(/\.hex$/, '.txt'));
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, dump);
      assert.ok(existsSync(golden), `${golden} missing: run with UPDATE_GOLDEN=1 and review it`);
      assert.equal(dump, readFileSync(golden, 'utf8'));
      const again = decode(encode(p));
      assert.deepEqual(new Map(again.options.entries()), new Map(p.options.entries()));
      assert.equal(dumpPacket(again).split('\n').slice(0, 6).join('\n'), dump.split('\n').slice(0, 6).join('\n'));
    });
  }
});
