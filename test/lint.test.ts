/** `3rc lint` and `3rc render` against the shipped templates and planted mistakes. */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, LAB_YAML, ROOT, writeLabConfig } from './lib/serve.js';

describe('3rc lint', () => {
  it('passes on the shipped templates and the example inventory', async () => {
    const r = await cli(['lint', '--config', LAB_YAML]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^lint: 24 render\(s\) for 6 host\(s\): 0 error\(s\), 0 warning\(s\)\n$/);
    assert.equal(r.stderr, '');
  });

  it('names the template file, the line and the host of a planted missing variable, and a broken preseed and kickstart', async () => {
    const cfg = await writeLabConfig({ paths: {} });
    try {
      const ks = join(cfg.dir, 'kickstarts');
      cpSync(join(ROOT, 'kickstarts'), ks, { recursive: true });
      const preseed = join(ks, 'debian12.preseed.hbs');
      const lines = readFileSync(preseed, 'utf8').split('\n');
      const at = lines.findIndex((l) => l.startsWith('d-i time/zone'));
      lines[at] = 'd-i time/zone string {{vars.tiemzone}}';
      lines.push('this is not a debconf line');
      writeFileSync(preseed, lines.join('\n'));
      writeFileSync(join(ks, 'rocky9.ks.hbs'), readFileSync(join(ks, 'rocky9.ks.hbs'), 'utf8').replace('%end\n\n{{> kickstart/callback}}', '\n{{> kickstart/callback}}'));
      const config = readFileSync(cfg.file, 'utf8') + `\n`;
      writeFileSync(cfg.file, config.replace(/paths:\n(\s+)boot: (.*)\n/, `paths:\n$1boot: $2\n$1kickstarts: ${ks}\n`));
      const r = await cli(['lint', '--config', cfg.file]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const errs = r.stderr.trim().split('\n');
      assert.ok(errs.includes(`${preseed}:${at + 1}: "tiemzone" not defined (host vm10)`), r.stderr);
      assert.ok(errs.includes(`${preseed}:${at + 1}: "tiemzone" not defined (host vm11)`), r.stderr);
      assert.ok(errs.some((e) => e.startsWith(`${join(ks, 'rocky9.ks.hbs')}: rendered line `) && e.includes('%post starts inside %packages') && e.endsWith('(host vm12)')), r.stderr);
      assert.match(r.stdout, /: [1-9]\d* error\(s\), 0 warning\(s\)\n$/);
    } finally {
      cfg.cleanup();
    }
  });

  it('warns about a variable printed unquoted into a %post script, a late_command or an installer script', async () => {
    const cfg = await writeLabConfig({ paths: {} });
    try {
      const ks = join(cfg.dir, 'kickstarts');
      const tpl = join(cfg.dir, 'templates');
      cpSync(join(ROOT, 'kickstarts'), ks, { recursive: true });
      cpSync(join(ROOT, 'templates'), tpl, { recursive: true });
      // Shapes seen in the wild: a role in a script variable, a key echoed inside sh -c '...'.
      const image = join(ks, 'debian12-image.sh.hbs');
      writeFileSync(image, readFileSync(image, 'utf8').replace('ROLE={{shq host.role}}', "ROLE='{{host.role}}'"));
      const late = join(tpl, 'partials', 'preseed', 'callback.hbs');
      writeFileSync(late, readFileSync(late, 'utf8').replace('printf "%s\\n" {{shq this nest=1}}', 'echo "{{this}}"'));
      const post = join(tpl, 'partials', 'kickstart', 'callback.hbs');
      writeFileSync(post, readFileSync(post, 'utf8').replace('curl -fsS -X POST {{shq install.doneUrl}}', 'curl -fsS -X POST "{{install.doneUrl}}"'));
      writeFileSync(cfg.file, readFileSync(cfg.file, 'utf8').replace(/paths:\n(\s+)boot: (.*)\n/, `paths:\n$1boot: $2\n$1kickstarts: ${ks}\n$1templates: ${tpl}\n`));
      const r = await cli(['lint', '--config', cfg.file]);
      assert.equal(r.code, 0, 'warnings do not fail lint');
      const line = (file: string, text: string) => readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
      assert.deepEqual(r.stderr.trim().split('\n'), [
        `warning: ${post}:${line(post, '"{{install.doneUrl}}"')}: {{install.doneUrl}} is printed into a shell context (%post) unquoted: write {{shq ...}}`,
        `warning: ${late}:${line(late, 'd-i preseed/late_command')}: {{this}} is printed into a shell context (late_command) unquoted: write {{shq ...}} (nest=1 inside sh -c '...')`,
        `warning: ${image}:${line(image, "ROLE='")}: {{host.role}} is printed into a shell context (script) unquoted: write {{shq ...}}`,
      ]);
      assert.match(r.stdout, /: 0 error\(s\), 3 warning\(s\)\n$/);
    } finally {
      cfg.cleanup();
    }
  });

  it('finds a preseed line that debconf-set-selections refuses', async () => {
    const cfg = await writeLabConfig();
    try {
      const ks = join(cfg.dir, 'kickstarts');
      cpSync(join(ROOT, 'kickstarts'), ks, { recursive: true });
      writeFileSync(join(ks, 'debian12.preseed.hbs'), `${readFileSync(join(ks, 'debian12.preseed.hbs'), 'utf8')}\nnot-a-debconf-line\n`);
      writeFileSync(cfg.file, readFileSync(cfg.file, 'utf8').replace(/paths:\n(\s+)boot: (.*)\n/, `paths:\n$1boot: $2\n$1kickstarts: ${ks}\n`));
      const r = await cli(['lint', '--config', cfg.file]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /debian12\.preseed\.hbs: debconf-set-selections refused the rendered preseed \(host vm10\): /);
    } finally {
      cfg.cleanup();
    }
  });
});

describe('3rc lint: GRUB configs', () => {
  it('renders every host\'s GRUB config and has grub-script-check refuse a broken template', { skip: existsSync('/usr/bin/grub-script-check') ? false : 'grub-script-check missing (grub-common)' }, async () => {
    const cfg = await writeLabConfig();
    try {
      const tpl = join(cfg.dir, 'templates');
      cpSync(join(ROOT, 'templates'), tpl, { recursive: true });
      // The local entry's closing brace lost: GRUB would stop at a syntax error and boot nothing.
      const grub = join(tpl, 'grub.cfg.hbs');
      writeFileSync(grub, readFileSync(grub, 'utf8').replace(/ {2}exit\n\}\n$/, '  exit\n'));
      writeFileSync(cfg.file, readFileSync(cfg.file, 'utf8').replace(/paths:\n(\s+)boot: (.*)\n/, `paths:\n$1boot: $2\n$1templates: ${tpl}\n`));
      const r = await cli(['lint', '--config', cfg.file]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      for (const mode of ['install', 'local']) assert.match(r.stderr, new RegExp(`grub\\.cfg\\.hbs: grub-script-check refused the rendered GRUB config \\(host vm10, ${mode}\\): `), r.stderr);
    } finally {
      cfg.cleanup();
    }
  });
});

describe('3rc render', () => {
  it('prints what the host gets, with --only for one part', async () => {
    const cfg = await writeLabConfig();
    try {
      const flip = await cli(['boot', 'vm12', '--install', '--config', cfg.file]);
      assert.equal(flip.code, 0, flip.stderr);
      const ks = await cli(['render', 'vm12', '--only', 'kickstart', '--config', cfg.file]);
      assert.equal(ks.code, 0, ks.stderr);
      assert.match(ks.stdout, /^# vm12\.lab\.test \(52:54:00:77:00:12\): Rocky Linux 9, rendered by 3rc$/m);
      assert.match(ks.stdout, /\/install\/52-54-00-77-00-12\/done\?token=[0-9a-f]{32}'$/m);
      assert.equal(ks.stderr, '');
      const all = await cli(['render', 'vm10', '--config', cfg.file]);
      assert.equal(all.code, 0);
      assert.match(all.stderr, /^note: vm10 boots from its disk now/);
      assert.match(all.stdout, /^#### .*debian12\.preseed\.hbs \(vm10, profile debian12, boot local\)$/m);
      assert.match(all.stdout, /^#### .*ipxe\.hbs \(vm10\)$/m);
      assert.match(all.stdout, /^#### .*pxelinux\.cfg\.hbs \(vm10: pxelinux\.cfg\/01-52-54-00-77-00-10\)$/m);
      const pxe = await cli(['render', 'vm12', '--only', 'pxelinux', '--config', cfg.file]);
      assert.match(pxe.stdout, /^DEFAULT install$/m);
      assert.match(pxe.stdout, /^ {2}APPEND .*inst\.ks=http:\/\/10\.77\.0\.1(:\d+)?\/ks\/52-54-00-77-00-12\?token=[0-9a-f]{32}/m);
      // The same token as in the kickstart it points to.
      assert.equal(/token=([0-9a-f]{32})/.exec(pxe.stdout)![1], /token=([0-9a-f]{32})/.exec(ks.stdout)![1]);
      assert.match(all.stdout, /^#### .*grub\.cfg\.hbs \(vm10: grub\.cfg-01-52-54-00-77-00-10\)$/m);
      // GRUB's entry for the same install: the kernel from TFTP, the same token, quoted for GRUB.
      const grub = await cli(['render', 'vm12', '--only', 'grub', '--config', cfg.file]);
      assert.match(grub.stdout, /^set default=install$/m);
      assert.match(grub.stdout, /^ {2}linux \(tftp,10\.77\.0\.1\)\/rocky\/9\/vmlinuz .*'inst\.ks=http:\/\/10\.77\.0\.1(:\d+)?\/ks\/52-54-00-77-00-12\?token=[0-9a-f]{32}'/m);
      assert.equal(/token=([0-9a-f]{32})/.exec(grub.stdout)![1], /token=([0-9a-f]{32})/.exec(ks.stdout)![1]);
      // --ipv6 without network.ipv6 in the config: told why (the IPv6 render itself: src/render/render.test.ts, test/ipv6).
      const v6 = await cli(['render', 'vm12', '--ipv6', '--config', cfg.file]);
      assert.notEqual(v6.code, 0);
      assert.match(v6.stderr, /no IPv6 preview: network\.ipv6 is not set/);
      const bad = await cli(['render', 'vm10', '--only', 'bootsector', '--config', cfg.file]);
      assert.equal(bad.code, 2, 'a wrong --only is a usage error');
    } finally {
      cfg.cleanup();
    }
  });
});
