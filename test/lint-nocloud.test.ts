/** `3rc lint` on NoCloud profiles: autoinstall user-data against subiquity's schema, cloud-config YAML, unquoted values. */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { cli, LAB_YAML, ROOT, writeLabConfig } from './lib/serve.js';

const base = parse(readFileSync(LAB_YAML, 'utf8')) as { profiles: unknown[]; hosts: Array<{ name: string; profile: string }> };
const cloudProfile = { name: 'cloud-t', installer: 'cloud-image', kernel: 'lab/installer/vmlinuz', initrd: 'lab/installer/initrd.gz', template: 'debian12-image.sh.hbs', userData: 'debian12-cloud.user-data.hbs', vars: { image: 'lab/images/debian12-cloud.img.gz', rolePackages: 'skip' } };
/** The example inventory with vm10 on the autoinstall profile and vm11 on a cloud-image one, templates from `kickstarts`. */
const config = (kickstarts?: string) =>
  writeLabConfig({
    profiles: [...base.profiles, cloudProfile],
    hosts: base.hosts.map((h) => (h.name === 'vm10' ? { ...h, profile: 'ubuntu24' } : h.name === 'vm11' ? { ...h, profile: 'cloud-t' } : h)),
    ...(kickstarts ? { paths: { kickstarts } } : {}),
  });

describe('3rc lint: NoCloud', () => {
  it('passes the shipped autoinstall and cloud-image user-data on the example inventory', async () => {
    const cfg = await config();
    try {
      const r = await cli(['lint', '--config', cfg.file]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /: 0 error\(s\), 0 warning\(s\)\n$/);
    } finally {
      cfg.cleanup();
    }
  });

  it('refuses an autoinstall the schema refuses, a user-data that is no cloud-config, and warns about an unquoted value', async () => {
    const cfg = await config();
    try {
      const ks = join(cfg.dir, 'kickstarts');
      cpSync(join(ROOT, 'kickstarts'), ks, { recursive: true });
      const ai = join(ks, 'ubuntu24.autoinstall.hbs');
      writeFileSync(ai, readFileSync(ai, 'utf8').replace(/^ {4}password: .*\n/m, '').replace('  storage:\n', '  storage: direct\n  bogus:\n'));
      const cloud = join(ks, 'debian12-cloud.user-data.hbs');
      writeFileSync(cloud, readFileSync(cloud, 'utf8').replace('fqdn: {{yq host.fqdn}}', 'fqdn: {{host.fqdn}}\n  - not: [valid'));
      const again = await config(ks);
      try {
        const r = await cli(['lint', '--config', again.file]);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        const lines = r.stderr.trim().split('\n');
        assert.ok(lines.includes(`${ai}: rendered user-data: autoinstall.storage: expected object, got string (subiquity's autoinstall schema) (host vm10)`), r.stderr);
        assert.ok(lines.includes(`${ai}: rendered user-data: autoinstall.identity: "password" is required (subiquity's autoinstall schema) (host vm10)`), r.stderr);
        assert.ok(lines.some((l) => l.startsWith(`${cloud}: rendered user-data line `) && l.includes(': not YAML: ') && l.endsWith('(host vm11)')), r.stderr);
        const at = readFileSync(cloud, 'utf8').split('\n').findIndex((l) => l.startsWith('fqdn: {{host.fqdn}}')) + 1;
        assert.ok(lines.includes(`warning: ${cloud}:${at}: {{host.fqdn}} is printed into a cloud-config unquoted: write {{yq ...}} (one YAML value), or {{shq ...}} inside a literal block a shell reads`), r.stderr);
      } finally {
        again.cleanup();
      }
    } finally {
      cfg.cleanup();
    }
  });

  it('3rc render prints a host\'s NoCloud files, with --only for one of them', async () => {
    const cfg = await config();
    try {
      assert.equal((await cli(['boot', 'vm10', '--install', '--config', cfg.file])).code, 0);
      const ud = await cli(['render', 'vm10', '--only', 'user-data', '--config', cfg.file]);
      assert.equal(ud.code, 0, ud.stderr);
      assert.match(ud.stdout, /^#cloud-config\n/);
      assert.match(ud.stdout, /\/install\/52-54-00-77-00-10\/done\?token=[0-9a-f]{32}"\]$/m);
      const all = await cli(['render', 'vm11', '--config', cfg.file]);
      assert.match(all.stdout, /^#### \(generated network-config\) \(vm11: \/ci\/52-54-00-77-00-11\/network-config\)\nversion: 2$/m);
      assert.match(all.stdout, /^#### .*debian12-cloud\.user-data\.hbs \(vm11: \/ci\/52-54-00-77-00-11\/user-data\)\n#cloud-config$/m);
      const none = await cli(['render', 'vm12', '--only', 'meta-data', '--config', cfg.file]);
      assert.notEqual(none.code, 0);
      assert.match(none.stderr, /profile rocky9 serves no NoCloud data/);
    } finally {
      cfg.cleanup();
    }
  });
});
