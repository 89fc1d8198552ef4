import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../config/load.js';
import { Inventory } from '../inventory/inventory.js';
import { packageRoot } from '../lib/paths.js';
import { buildContext } from './context.js';
import { TemplateError } from '../lib/errors.js';
import { TemplateEngine } from './engine.js';
import { checkKickstart } from './kickstart-check.js';
import { hostSpec, renderIpxe, renderKickstart } from './render.js';
import { mergeVars } from './vars.js';
import { preview } from './preview.js';

const root = packageRoot();
const config = parseConfig(readFileSync(join(root, 'examples', 'lab.yaml'), 'utf8'), join(root, 'examples', 'lab.yaml'));
const inventory = Inventory.fromConfig(config);
const engine = new TemplateEngine({ templates: join(root, 'templates'), kickstarts: join(root, 'kickstarts') });
const deps = { config, inventory, engine };
const vm10 = inventory.hostByName('vm10')!;
const vm12 = inventory.hostByName('vm12')!;
const installing = (mac: string, profile: string) => ({ mac, mode: 'install' as const, profile, token: 'tok-123', since: 0 });

/** A value as the late_command quotes it for two shells (src/render/shell.ts): '\''VALUE'\''. */
const q = (v: string) => `'\\''${v}'\\''`;

const dir = mkdtempSync(join(tmpdir(), '3rc-render-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('template variables', () => {
  it('inherit global -> profile -> host, merging mappings and replacing lists', () => {
    const v = mergeVars({ a: 1, m: { x: 1, y: 1 }, l: [1, 2] }, { a: 2, m: { y: 2 } }, { m: { z: 3 }, l: [9] });
    assert.deepEqual(v, { a: 2, m: { x: 1, y: 2, z: 3 }, l: [9] });
  });

  it('never carry prototype keys', () => {
    const v = mergeVars(JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as Record<string, unknown>);
    assert.deepEqual(Object.keys(v), ['ok']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('give each host its network, URLs with its token, and kernel arguments', () => {
    const c = buildContext(config, vm10, config.profiles[0]!, { token: 'tok-123' });
    assert.equal(c.host.fqdn, 'vm10.lab.test');
    assert.equal(c.network.netmask, '255.255.255.0');
    assert.equal(c.network.gateway, '10.77.0.1');
    assert.equal(c.install.kickstartUrl, 'http://10.77.0.1/ks/52-54-00-77-00-10?token=tok-123');
    assert.equal(c.install.doneUrl, 'http://10.77.0.1/install/52-54-00-77-00-10/done?token=tok-123');
    assert.equal(c.urls.kernel, 'http://10.77.0.1/boot/files/debian-installer/12/amd64/linux');
    assert.equal(c.kernelArgs, 'auto=true priority=critical console=ttyS0 url=http://10.77.0.1/ks/52-54-00-77-00-10?token=tok-123 hostname=vm10 domain=lab.test');
  });
});

describe('rendering the shipped templates', () => {
  it('a preseed keeps = and quotes as they are (noEscape) and carries the callback with the token', () => {
    const out = renderKickstart(deps, vm10, installing(vm10.mac, 'debian12'));
    assert.match(out.text, /^# vm10\.lab\.test \(52:54:00:77:00:10\): Debian 12, rendered by 3rc$/m);
    assert.match(out.text, /^d-i netcfg\/get_hostname string vm10$/m);
    // The late_command's values are quoted for two shells (src/render/shell.ts): '\''VALUE'\''.
    assert.ok(out.text.includes(`'\\''http://10.77.0.1/install/52-54-00-77-00-10/done?token=tok-123'\\''`), out.text);
    assert.ok(!out.text.includes('&#x3D;') && !out.text.includes('&quot;'));
    // The HINFO role step runs before the done callback, against 3rc's own DNS.
    assert.ok(out.text.includes(`curl -fsS -o /root/3rc/role.sh ${q('http://10.77.0.1/files/post-install/role.sh')}`), out.text);
    assert.ok(out.text.includes(` THREERC_DNS=${q('10.77.0.1')} THREERC_DNS_PORT=${q('53')} THREERC_FQDN=${q('vm10.lab.test')} ROLES_DIR=/root/3rc/roles ROLES_URL=${q('http://10.77.0.1/files/roles')} sh /root/3rc/role.sh`), out.text);
  });

  it('a kickstart has balanced sections and known commands', () => {
    const out = renderKickstart(deps, vm12, installing(vm12.mac, 'rocky9'));
    assert.deepEqual(checkKickstart(out.text), []);
    assert.match(out.text, /^network --bootproto=dhcp --hostname=vm12\.lab\.test --activate$/m);
  });

  it('an iPXE script chains kernel and initrd over HTTP when installing, and exits otherwise', () => {
    const on = renderIpxe(deps, vm10, hostSpec(deps, vm10, installing(vm10.mac, 'debian12'))).text;
    assert.match(on, /^#!ipxe\n/);
    assert.match(on, /^kernel http:\/\/10\.77\.0\.1\/boot\/files\/debian-installer\/12\/amd64\/linux initrd=initrd auto=true .*url=http:\/\/10\.77\.0\.1\/ks\/52-54-00-77-00-10\?token=tok-123 .*BOOTIF=01-\$\{netX\/mac:hexhyp\}$/m);
    assert.match(on, /^initrd --name initrd http:\/\/10\.77\.0\.1\/boot\/files\/debian-installer\/12\/amd64\/initrd\.gz$/m);
    const off = renderIpxe(deps, vm10, hostSpec(deps, vm10, { ...installing(vm10.mac, 'debian12'), mode: 'local', token: null })).text;
    assert.ok(!off.includes('kernel '));
    assert.match(off, /^exit$/m);
  });
});

describe('what a host asked for over IPv6 names 3rc\'s IPv6 address', () => {
  // The lab config with network.ipv6 and vm10's IPv6 reservation, as the PXEv6 lab runs it.
  const doc = parse(readFileSync(join(root, 'examples', 'lab.yaml'), 'utf8')) as { network: Record<string, unknown>; hosts: Record<string, unknown>[] };
  doc.network.ipv6 = { serverIp: 'fd77::1', prefixes: [{ prefix: 'fd77::/64' }] };
  doc.hosts = doc.hosts.map((h) => (h.name === 'vm10' ? { ...h, ipv6: 'fd77::10' } : h));
  const config6 = parseConfig(stringify(doc), join(root, 'examples', 'lab.yaml'));
  const inventory6 = Inventory.fromConfig(config6);
  const deps6 = { config: config6, inventory: inventory6, engine };
  const host = inventory6.hostByName('vm10')!;
  const entry = installing(host.mac, 'debian12');

  it('a preseed: its callbacks, the role step and its DNS server at [fd77::1]; over IPv4 at 10.77.0.1 as before', () => {
    const v6 = renderKickstart(deps6, host, entry, undefined, 'ipv6').text;
    assert.ok(v6.includes(q('http://[fd77::1]/install/52-54-00-77-00-10/done?token=tok-123')), v6);
    assert.ok(v6.includes(`curl -fsS -o /root/3rc/role.sh ${q('http://[fd77::1]/files/post-install/role.sh')}`), v6);
    assert.ok(v6.includes(` THREERC_DNS=${q('fd77::1')} `), v6);
    assert.ok(v6.includes(`ROLES_URL=${q('http://[fd77::1]/files/roles')}`), v6);
    assert.doesNotMatch(v6, /http:\/\/10\.77\./, 'no IPv4 URL in a preseed asked for over IPv6');
    const v4 = renderKickstart(deps6, host, entry).text;
    assert.ok(v4.includes(q('http://10.77.0.1/install/52-54-00-77-00-10/done?token=tok-123')), v4);
    assert.ok(!v4.includes('[fd77::1]'), 'no IPv6 URL in a preseed asked for over IPv4');
  });

  it('an iPXE script: kernel, initrd and the preseed URL at [fd77::1]', () => {
    const on = renderIpxe(deps6, host, hostSpec(deps6, host, entry, undefined, 'ipv6'), 'ipv6').text;
    assert.match(on, /^kernel http:\/\/\[fd77::1\]\/boot\/files\/debian-installer\/12\/amd64\/linux initrd=initrd .*url=http:\/\/\[fd77::1\]\/ks\/52-54-00-77-00-10\?token=tok-123 /m);
    assert.match(on, /^initrd --name initrd http:\/\/\[fd77::1\]\/boot\/files\/debian-installer\/12\/amd64\/initrd\.gz$/m);
    assert.doesNotMatch(on, /http:\/\/10\.77\./);
  });

  it('the preview (3rc render --ipv6): iPXE script, preseed and grub.cfg as asked over IPv6; refused without network.ipv6', () => {
    const p = preview(deps6, host, entry, undefined, 'ipv6');
    assert.equal(p.family, 'ipv6');
    assert.match(p.ipxe.text, /url=http:\/\/\[fd77::1\]\/ks\/52-54-00-77-00-10\?token=tok-123 /);
    assert.ok(p.kickstart!.text.includes('http://[fd77::1]/install/52-54-00-77-00-10/done?token=tok-123'), p.kickstart!.text);
    assert.match(p.grub.text, /\(tftp,fd77::1\)/, p.grub.text);
    assert.equal(preview(deps6, host, entry).family, 'ipv4');
    assert.doesNotMatch(preview(deps6, host, entry).ipxe.text, /fd77/);
    assert.throws(() => preview(deps, vm10, entry, undefined, 'ipv6'), /network\.ipv6 is not set/);
  });

  it('the context: every URL and the kernel arguments; the IPv4 subnet description unchanged', () => {
    const c = buildContext(config6, host, config6.profiles[0]!, { token: 'tok-123' }, 'ipv6');
    assert.equal(c.urls.base, 'http://[fd77::1]');
    assert.equal(c.install.kickstartUrl, 'http://[fd77::1]/ks/52-54-00-77-00-10?token=tok-123');
    assert.equal(c.install.failedUrl, 'http://[fd77::1]/install/52-54-00-77-00-10/failed?token=tok-123');
    assert.equal(c.install.nocloudUrl, 'http://[fd77::1]/ci/52-54-00-77-00-10/');
    assert.equal(c.p2v.url, 'http://[fd77::1]/p2v/52-54-00-77-00-10');
    assert.match(c.kernelArgs, / url=http:\/\/\[fd77::1\]\/ks\/52-54-00-77-00-10\?token=tok-123 /);
    assert.equal(c.postInstall.dnsServer, 'fd77::1');
    assert.equal(c.network.serverIp, '10.77.0.1');
    assert.equal(c.network.gateway, '10.77.0.1');
  });
});

describe('template errors name the file, the line and the host', () => {
  const t = join(dir, 'templates');
  const k = join(dir, 'kickstarts');
  mkdirSync(join(t, 'partials'), { recursive: true });
  mkdirSync(k, { recursive: true });
  const local = new TemplateEngine({ templates: t, kickstarts: k });

  it('a missing variable', () => {
    writeFileSync(join(k, 'a.hbs'), 'line one\nhost {{host.name}}\nmirror {{vars.mirrorr}}\n');
    assert.throws(() => local.render(join(k, 'a.hbs'), { host: { name: 'vm10' }, vars: {} }, 'vm10'), (err: TemplateError) => {
      assert.equal(err.file, join(k, 'a.hbs'));
      assert.equal(err.line, 3);
      assert.equal(err.message, `${join(k, 'a.hbs')}:3: "mirrorr" not defined (rendering for vm10)`);
      return true;
    });
  });

  it('a missing partial, at the line that calls it', () => {
    writeFileSync(join(k, 'b.hbs'), 'one\ntwo\n{{> preseed/nope}}\n');
    assert.throws(() => local.render(join(k, 'b.hbs'), {}, 'vm11'), (err: TemplateError) => err.line === 3 && /partial "preseed\/nope" not found/.test(err.message) && err.host === 'vm11');
  });

  it('an error inside a partial names the partial', () => {
    mkdirSync(join(t, 'partials', 'x'), { recursive: true });
    writeFileSync(join(t, 'partials', 'x', 'p.hbs'), 'ok\n{{missing}}\n');
    writeFileSync(join(k, 'c.hbs'), 'top\n{{> x/p}}\n');
    const fresh = new TemplateEngine({ templates: t, kickstarts: k });
    assert.throws(() => fresh.render(join(k, 'c.hbs'), {}, 'vm12'), (err: TemplateError) => err.file === join(t, 'partials', 'x', 'p.hbs') && err.line === 2 && err.host === 'vm12');
  });

  it('a syntax error', () => {
    writeFileSync(join(k, 'd.hbs'), 'a\n{{foo bar=}}\nc\n');
    assert.throws(() => local.render(join(k, 'd.hbs'), {}), (err: TemplateError) => err.file === join(k, 'd.hbs') && err.line === 2);
  });

  it('an edited template is picked up without a restart', () => {
    const f = join(k, 'e.hbs');
    writeFileSync(f, 'v1 {{x}}');
    const e = new TemplateEngine({ templates: t, kickstarts: k });
    assert.equal(e.render(f, { x: 1 }), 'v1 1');
    writeFileSync(f, 'v2 {{x}}');
    utimesSync(f, new Date(), new Date(Date.now() + 5000));
    // The engine checks a file at most once a second.
    const until = Date.now() + 3000;
    let got = e.render(f, { x: 1 });
    while (got !== 'v2 1' && Date.now() < until) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      got = e.render(f, { x: 1 });
    }
    assert.equal(got, 'v2 1');
  });
});

describe('kickstart structure check', () => {
  it('finds unclosed, nested and unknown things, with rendered lines', () => {
    const problems = checkKickstart('text\nfrobnicate --now\n%packages\nvim\n%post\necho\n%end\n%end\n%pre\n');
    assert.deepEqual(problems, [
      { line: 2, message: 'unknown kickstart command "frobnicate"' },
      { line: 5, message: '%post starts inside %packages (line 3), which has no %end' },
      { line: 8, message: '%end without an open section' },
      { line: 9, message: '%pre is not closed with %end' },
    ]);
  });
});
