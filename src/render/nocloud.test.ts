/**
 * NoCloud rendering on the example inventory: meta-data, network-config and user-data as
 * cloud-init reads them (PyYAML, and cloud-init's own schema check), the autoinstall user-data
 * against subiquity's schema, and the `ds=nocloud;s=...` kernel argument as each loader reads it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../config/load.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { Inventory } from '../inventory/inventory.js';
import { packageRoot } from '../lib/paths.js';
import { checkAutoinstall } from './autoinstall-check.js';
import { TemplateEngine } from './engine.js';
import { instanceId, renderNoCloud, type NoCloudFile } from './nocloud.js';
import { loaderConfigs, preview } from './preview.js';
import { hostSpec, renderIpxe } from './render.js';

const root = packageRoot();
const labFile = join(root, 'examples', 'lab.yaml');
const raw = parse(readFileSync(labFile, 'utf8')) as { profiles: Array<Record<string, unknown>>; hosts: Array<Record<string, unknown>> };
// A cloud-image profile of its own (its install script: the image one; its user-data: the shipped
// template; a role step that would break an unquoted shell context),
// and a host whose MAC YAML 1.1 would read as a base-60 number if it were left bare.
raw.profiles.push({ name: 'cloud-t', installer: 'cloud-image', kernel: 'lab/installer/vmlinuz', initrd: 'lab/installer/initrd.gz', template: 'debian12-image.sh.hbs', userData: 'debian12-cloud.user-data.hbs', vars: { image: 'lab/images/debian12-cloud.img.gz', rolePackages: "skip'; reboot #" } });
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID44RZjwns7VV9mDzLBXm4KmkA/k8ZeRkNZ+er5ecX8W ops@lab';
raw.hosts.push({ name: 'vm16', mac: '52:54:00:12:34:56', ip: '10.77.0.16', profile: 'cloud-t', role: 'middleware', vars: { sshKeys: [KEY] } });
const config = parseConfig(stringify(raw), labFile);
const inventory = Inventory.fromConfig(config);
const engine = new TemplateEngine({ templates: join(root, 'templates'), kickstarts: join(root, 'kickstarts') });
const deps = { config, inventory, engine };
const vm10 = inventory.hostByName('vm10')!;
const vm16 = inventory.hostByName('vm16')!;
const TOKEN = '0123456789abcdef0123456789abcdef';
const installing = (mac: string, profile: string, since = 1_700_000_000_000, token = TOKEN): BootEntry => ({ mac, mode: 'install', profile, token, since });
const render = (host = vm16, file: NoCloudFile, entry = installing(host.mac, host.profile)) => renderNoCloud(deps, host, entry, file).text;

const dir = mkdtempSync(join(tmpdir(), '3rc-nocloud-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The document as cloud-init's parser (PyYAML, python3-yaml) reads it. */
function pyyaml(text: string): unknown {
  return JSON.parse(execFileSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: text, encoding: 'utf8' }));
}

/** cloud-init's own schema check of a user-data (Debian's cloud-init package; scripts/install.sh --test). */
function cloudInitSchema(text: string, name: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    return execFileSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('cloud-init is not installed (apt-get install cloud-init; scripts/install.sh --test installs it)');
    throw new Error(`cloud-init schema refused ${name}: ${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('NoCloud meta-data', () => {
  it('has an instance-id and the local-hostname, as cloud-init reads them', () => {
    const text = render(vm16, 'meta-data');
    assert.deepEqual(pyyaml(text), { 'instance-id': instanceId('vm16', installing(vm16.mac, 'cloud-t')), 'local-hostname': 'vm16' });
  });

  it('a new instance-id for each install, the same one for the same install, and never the token', () => {
    const a = instanceId('vm16', installing(vm16.mac, 'x', 1000, TOKEN));
    assert.equal(instanceId('vm16', installing(vm16.mac, 'x', 1000, TOKEN)), a);
    assert.notEqual(instanceId('vm16', installing(vm16.mac, 'x', 2000, TOKEN)), a);
    assert.notEqual(instanceId('vm16', installing(vm16.mac, 'x', 1000, 'f'.repeat(32))), a);
    assert.notEqual(instanceId('vm15', installing(vm16.mac, 'x', 1000, TOKEN)), a);
    assert.ok(!render(vm16, 'meta-data').includes(TOKEN));
    assert.ok(!a.includes(TOKEN.slice(0, 8)));
  });
});

describe('NoCloud network-config', () => {
  it('is version 2 from the inventory: the MAC a string (not YAML 1.1 base 60), address, gateway, name servers, search domain', () => {
    assert.deepEqual(pyyaml(render(vm16, 'network-config')), {
      version: 2,
      ethernets: {
        eth0: {
          match: { macaddress: '52:54:00:12:34:56' },
          'set-name': 'eth0',
          dhcp4: false,
          addresses: ['10.77.0.16/24'],
          routes: [{ to: '0.0.0.0/0', via: '10.77.0.1' }],
          nameservers: { addresses: ['10.77.0.1'], search: ['lab.test'] },
        },
      },
    });
  });

  it('vendor-data is an empty cloud-config', () => {
    const text = render(vm16, 'vendor-data');
    assert.match(text, /^#cloud-config\n/);
    assert.deepEqual(pyyaml(text), {});
  });
});

describe('NoCloud user-data of a cloud-image profile', () => {
  const text = render(vm16, 'user-data');

  it('is a #cloud-config that cloud-init\'s own schema check accepts, with keys and without (cloud-init refuses an empty key list)', () => {
    assert.match(text, /^#cloud-config\n/);
    assert.match(cloudInitSchema(text, 'cloud-image.user-data'), /Valid cloud-config/);
    const keyless = { ...vm16, vars: {} };
    const other = renderNoCloud(deps, keyless, installing(vm16.mac, 'cloud-t'), 'user-data').text;
    assert.doesNotMatch(other, /ssh_authorized_keys/);
    assert.match(cloudInitSchema(other, 'cloud-image-keyless.user-data'), /Valid cloud-config/);
  });

  it('sets the host name, root\'s keys, and runs the first-boot step that calls install-done with the token', () => {
    const ud = pyyaml(text) as { hostname: string; fqdn: string; users: Array<{ name: string; ssh_authorized_keys: unknown }>; write_files: Array<{ path: string; content: string }>; runcmd: unknown[] };
    assert.equal(ud.hostname, 'vm16');
    assert.equal(ud.fqdn, 'vm16.lab.test');
    assert.deepEqual(ud.users[0], { name: 'root', lock_passwd: true, ssh_authorized_keys: [KEY] });
    assert.deepEqual(ud.runcmd, [['sh', '/var/lib/3rc/first-boot.sh']]);
    const script = ud.write_files.find((f) => f.path === '/var/lib/3rc/first-boot.sh')!.content;
    assert.match(script, /^#!\/bin\/sh\n/);
    assert.match(script, /post "\$DONE_URL" \/var\/lib\/3rc\/host-keys/);
    execFileSync('sh', ['-n', '-c', script]);
  });

  it('its environment file reads back in the shell as exactly the values, whatever they hold', () => {
    const ud = pyyaml(text) as { write_files: Array<{ path: string; content: string }> };
    const env = ud.write_files.find((f) => f.path === '/var/lib/3rc/install.env')!.content;
    const file = join(dir, 'install.env');
    writeFileSync(file, env);
    const out = execFileSync('sh', ['-c', '. "$1"; printf "%s\\n" "$DONE_URL" "$ROLE" "$ROLE_PACKAGES" "$DNS_PORT"', 'sh', file], { encoding: 'utf8' });
    assert.deepEqual(out.split('\n').slice(0, 4), [`http://10.77.0.1/install/52-54-00-12-34-56/done?token=${TOKEN}`, 'middleware', "skip'; reboot #", '53']);
  });
});

describe('autoinstall user-data (Ubuntu, installer: autoinstall)', () => {
  const text = render(vm10, 'user-data', installing(vm10.mac, 'ubuntu24'));

  it('renders a #cloud-config with autoinstall version 1: identity, ssh, storage, late-commands calling install-done', () => {
    assert.match(text, /^#cloud-config\n/);
    const ai = (pyyaml(text) as { autoinstall: Record<string, unknown> }).autoinstall;
    assert.equal(ai.version, 1);
    assert.deepEqual(ai.identity, { hostname: 'vm10', username: 'ops', password: config.vars.rootPasswordHash });
    assert.deepEqual(ai.ssh, { 'install-server': true, 'allow-pw': false, 'authorized-keys': [] });
    assert.ok(ai.storage);
    const late = ai['late-commands'] as string[][];
    assert.deepEqual(late.at(-1)!.slice(-1), [`http://10.77.0.1/install/52-54-00-77-00-10/done?token=${TOKEN}`]);
    assert.deepEqual(late[0]!.slice(-5), ['http://10.77.0.1/files/post-install/role.sh', '10.77.0.1', '53', 'vm10.lab.test', 'http://10.77.0.1/files/roles']);
  });

  it('passes subiquity\'s published schema, and cloud-init\'s own check as a cloud-config', () => {
    assert.deepEqual(checkAutoinstall(text), []);
    assert.match(cloudInitSchema(text, 'autoinstall.user-data'), /Valid cloud-config/);
  });

  it('the schema check finds planted mistakes: a missing password, an unknown time zone, a number in a command', () => {
    const broken = text.replace(/^ {4}password: .*\n/m, '').replace(/^ {2}timezone: .*$/m, '  timezone: "Mars/Olympus"').replace(/"53"/, '53');
    assert.deepEqual(checkAutoinstall(broken).map((p) => p.message), [
      `autoinstall.timezone: "Mars/Olympus" is not one of ${countTimezones()} allowed values (subiquity's autoinstall schema)`,
      'autoinstall.identity: "password" is required (subiquity\'s autoinstall schema)',
      'autoinstall.late-commands[0][10]: expected string, got number (subiquity\'s autoinstall schema)',
    ]);
    assert.match(checkAutoinstall('autoinstall: {version: 1}\n')[0]!.message, /must start with the line #cloud-config/);
    assert.match(checkAutoinstall('#cloud-config\nhostname: x\n')[0]!.message, /no autoinstall: mapping/);
    assert.match(checkAutoinstall('#cloud-config\nautoinstall: [\n')[0]!.message, /^not YAML/);
  });
});

function countTimezones(): number {
  const schema = JSON.parse(readFileSync(join(root, 'templates', 'schemas', 'subiquity-autoinstall-schema.json'), 'utf8')) as { properties: { timezone: { enum: unknown[] } } };
  return schema.properties.timezone.enum.length;
}

describe('the NoCloud seed on the kernel command line, through each loader', () => {
  const seed = 'ds=nocloud;s=http://10.77.0.1/ci/52-54-00-77-00-10/';
  const spec = hostSpec(deps, vm10, installing(vm10.mac, 'ubuntu24'));

  it('autoinstall: `autoinstall ds=nocloud;s=URL`, the `;` inside one word for pxelinux, GRUB and iPXE', () => {
    assert.equal(spec.args, `ip=dhcp console=ttyS0 autoinstall ${seed}`);
    const { pxelinux, grub } = loaderConfigs(deps, spec);
    // pxelinux: APPEND takes the rest of its line as it is.
    assert.match(pxelinux.text, new RegExp(`^\\s*APPEND .* autoinstall ${seed.replace(/[.;/]/g, '\\$&')}$`, 'm'));
    // GRUB: `;` ends a command unless quoted; the word is single-quoted.
    assert.ok(grub.text.includes(` autoinstall '${seed}'`), grub.text);
    // iPXE: `;` ends a command only as a token of its own.
    const ipxe = renderIpxe(deps, vm10, spec).text;
    const kernel = ipxe.split('\n').find((l) => l.startsWith('kernel '))!;
    assert.ok(kernel.split(/\s+/).includes(seed), kernel);
    assert.ok(!kernel.split(/\s+/).includes(';'));
  });

  it('GRUB\'s own parser accepts the config (grub-script-check, grub-common)', () => {
    const file = join(dir, 'grub.cfg');
    writeFileSync(file, loaderConfigs(deps, spec).grub.text);
    execFileSync('grub-script-check', [file]);
  });

  it('cloud-image: the image installer\'s argument and the seed', () => {
    const s = hostSpec(deps, vm16, installing(vm16.mac, 'cloud-t'));
    assert.match(s.args!, /^3rc\.image=http:\/\/10\.77\.0\.1\/ks\/52-54-00-12-34-56\?token=[0-9a-f]{32} ds=nocloud;s=http:\/\/10\.77\.0\.1\/ci\/52-54-00-12-34-56\/$/);
  });
});

describe('the preview (3rc render, GET /api/v1/hosts/NAME/render)', () => {
  it('shows the NoCloud files of a cloud-image or autoinstall host, exactly as /ci/<mac>/ serves them; none for a preseed host', () => {
    const entry = installing(vm16.mac, 'cloud-t');
    const p = preview(deps, vm16, entry);
    assert.deepEqual(Object.keys(p.nocloud!), ['meta-data', 'user-data', 'vendor-data', 'network-config']);
    for (const f of ['meta-data', 'user-data', 'vendor-data', 'network-config'] as const) assert.equal(p.nocloud![f].text, render(vm16, f, entry));
    assert.equal(p.nocloud!['user-data'].file, join(root, 'kickstarts', 'debian12-cloud.user-data.hbs'));
    assert.equal(preview(deps, vm10, installing(vm10.mac, 'debian12')).nocloud, null);
    assert.match(preview(deps, vm10, installing(vm10.mac, 'debian12'), 'ubuntu24').nocloud!['user-data'].text, /^#cloud-config\nautoinstall:|^#cloud-config\n(#.*\n)*autoinstall:/);
  });
});
