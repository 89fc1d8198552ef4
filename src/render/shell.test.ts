/**
 * {{shq}} against a real /bin/sh: hostile values reach the shell verbatim and run nothing, in one
 * shell and through two (a preseed's late_command), and in every shell context of the shipped
 * templates, rendered with every string of the context replaced by a hostile one.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../config/load.js';
import { Inventory } from '../inventory/inventory.js';
import { packageRoot } from '../lib/paths.js';
import { buildContext } from './context.js';
import { TemplateEngine } from './engine.js';
import { findUnquoted, shellQuote } from './shell.js';

const root = packageRoot();
const dir = mkdtempSync(join(tmpdir(), '3rc-shq-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Each creates a file under dir when a shell runs it as code. */
const hostile = [
  `x'; touch ${dir}/pwned1; '`,
  `$(touch ${dir}/pwned2)`,
  `\`touch ${dir}/pwned3\``,
  `a"; touch ${dir}/pwned4; echo "`,
  `'\\''$(touch ${dir}/pwned5)'\\''`,
  `tab\tback\\slash *glob* ~ & | ; < > #`,
];
const evil = hostile.join(' ');
const pwned = () => readdirSync(dir).filter((f) => f.startsWith('pwned'));
const sh = (script: string, env: NodeJS.ProcessEnv = {}) => execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
/** Runs a script whose last command may fail (the recorders fail): its status does not matter here. */
const run = (script: string, env: NodeJS.ProcessEnv) => spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
const syntaxOk = (script: string) => execFileSync('/bin/sh', ['-n', '-c', script], { encoding: 'utf8' });

describe('shq', () => {
  it('gives one shell word that /bin/sh reads back verbatim, running nothing', () => {
    for (const v of [...hostile, evil, '', "'", "''", 'plain']) {
      assert.equal(sh(`printf %s ${shellQuote(v)}`), v);
    }
    assert.equal(sh(`printf %s ${shellQuote(53)}`), '53');
    assert.equal(shellQuote(null), `''`);
    assert.deepEqual(pwned(), []);
  });

  it('with nest=1, survives two shells: sh -c with the quoted word inside single quotes', () => {
    for (const v of [...hostile, evil, "'"]) {
      const outer = `sh -c 'printf %s ${shellQuote(v, 1)}'`;
      syntaxOk(outer);
      assert.equal(sh(outer), v);
    }
    assert.deepEqual(pwned(), []);
  });

  it('refuses what no shell word can carry', () => {
    assert.throws(() => shellQuote('a\0b'), /NUL/);
    assert.throws(() => shellQuote(['a']), /a list/);
    assert.throws(() => shellQuote({}), /object/);
  });
});

/** Every string leaf of a value replaced by the hostile string (lists keep their length). */
function poison(v: unknown): unknown {
  if (typeof v === 'string') return evil;
  if (Array.isArray(v)) return v.map(poison);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, poison(x)]));
  return v;
}

describe('the shipped templates, with every value hostile', () => {
  const file = join(root, 'examples', 'lab.yaml');
  const config = parseConfig(readFileSync(file, 'utf8'), file);
  const inventory = Inventory.fromConfig(config);
  const engine = new TemplateEngine({ templates: join(root, 'templates'), kickstarts: join(root, 'kickstarts') });
  const ctxOf = (hostName: string, profileName: string) => {
    const host = inventory.hostByName(hostName)!;
    const ctx = buildContext(config, host, inventory.profile(profileName)!, { token: 'tok' });
    // Two keys, so that the loops over them run; the rest of the context becomes hostile.
    return poison({ ...ctx, vars: { ...ctx.vars, sshKeys: ['k1', 'k2'] } }) as Record<string, unknown>;
  };
  const render = (template: string, hostName: string, profile: string) => engine.render(engine.kickstartFile(template), ctxOf(hostName, profile));
  /** The lines from the one starting with `from` through the last one starting with `to`. */
  const slice = (text: string, from: string, to: string) => {
    const lines = text.split('\n');
    const a = lines.findIndex((l) => l.startsWith(from));
    let b = lines.length - 1;
    while (b >= 0 && !lines[b]!.startsWith(to)) b--;
    assert.ok(a >= 0 && b >= a, `${from} .. ${to}`);
    return lines.slice(a, b + 1).join('\n');
  };
  /** A PATH directory whose `name` programs record their arguments (one a line) and fail. */
  const recorders = (name: string, programs: string[]) => {
    const bin = join(dir, name);
    mkdirSync(bin);
    for (const p of programs) {
      writeFileSync(join(bin, p), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >>'${bin}/${p}.args'\nexit 1\n`);
      chmodSync(join(bin, p), 0o755);
    }
    return { bin, args: (p: string) => (existsSync(join(bin, `${p}.args`)) ? readFileSync(join(bin, `${p}.args`), 'utf8').split('\n').slice(0, -1) : []) };
  };

  it('the image installer script: sh -n passes, every value arrives verbatim, nothing runs', () => {
    const text = render('debian12-image.sh.hbs', 'vm14', 'debian12-image');
    syntaxOk(text);
    const vars = slice(text, 'IMAGE=', 'ROLE_PACKAGES=');
    assert.equal(sh(`${vars}\nprintf '%s\\n' "$ROLE" "$HOST_NAME" "$IMAGE" "$DOMAIN" "$DONE_URL" "$ROLE_PACKAGES"`), `${`${evil}\n`.repeat(6)}`);
    assert.equal(sh(`${vars}\nprintf %s "$IMAGE_URL"`), `${evil}/boot/files/${evil}`);
    const target = join(dir, 'image-target');
    mkdirSync(join(target, 'root', '.ssh'), { recursive: true });
    mkdirSync(join(target, 'etc'));
    sh(slice(text, '  : >"$T/root/.ssh/authorized_keys"', `  printf '%s\\n'`), { T: target });
    assert.equal(readFileSync(join(target, 'root', '.ssh', 'authorized_keys'), 'utf8'), `${evil}\n${evil}\n`);
    sh(`${vars}\n${slice(text, '  {', '  } >"$T/etc/resolv.conf"')}`, { T: target });
    assert.equal(readFileSync(join(target, 'etc', 'resolv.conf'), 'utf8'), `search ${evil}\nnameserver ${evil}\n`);
    assert.deepEqual(pwned(), []);
  });

  it('the P2V capture script', () => {
    const text = render('capture.sh.hbs', 'vm14', 'capture');
    syntaxOk(text);
    assert.equal(sh(`${slice(text, 'P2V=', 'HOST_IP=')}\nprintf '%s\\n' "$P2V" "$Q" "$AFTER" "$HOST_FQDN" "$HOST_IP"`), `${evil}\n?token=${evil}\n${evil}\n${evil}\n${evil}\n`);
    assert.deepEqual(pwned(), []);
  });

  it("the kickstart's %post and %onerror scripts", () => {
    const text = render('rocky9.ks.hbs', 'vm12', 'rocky9');
    const scripts = [...text.matchAll(/^%(?:post|onerror)[^\n]*\n([\s\S]*?)^%end$/gm)].map((m) => m[1]!);
    assert.equal(scripts.length, 3);
    const rec = recorders('bin-ks', ['curl']);
    for (const s of scripts) {
      syntaxOk(s);
      run(s.replaceAll('/root/', `${dir}/ks-root/`), { PATH: `${rec.bin}:${process.env.PATH}` });
    }
    // The role script fetch (which fails, so the role step stops there), the done and failed calls.
    assert.deepEqual(rec.args('curl'), ['-fsS', '-o', `${dir}/ks-root/3rc/role.sh`, evil, '-fsS', '-X', 'POST', evil, '-fsS', '-X', 'POST', '--data-binary', '@/tmp/anaconda.log', evil]);
    assert.deepEqual(pwned(), []);
  });

  it("the preseed's late_command, through debian-installer's sh -c and the target's sh -c", () => {
    const text = render('debian12.preseed.hbs', 'vm10', 'debian12');
    const command = /^d-i preseed\/late_command string (.*)$/m.exec(text)?.[1];
    assert.ok(command);
    // in-target runs its arguments in the target: here, with the target's /root under dir.
    const rec = recorders('bin-preseed', ['curl', 'wget']);
    const target = join(dir, 'preseed-root');
    writeFileSync(join(rec.bin, 'in-target'), `#!/bin/sh\n[ "$1" = sh ] && [ "$2" = -c ] || exit 99\nexec sh -c "$(printf %s "$3" | sed -e 's|/root/|${target}/|g' -e 's|/etc/ssh/|${target}/etc/ssh/|g')"\n`);
    chmodSync(join(rec.bin, 'in-target'), 0o755);
    mkdirSync(target);
    syntaxOk(command);
    run(command, { PATH: `${rec.bin}:${process.env.PATH}` });
    assert.equal(readFileSync(join(target, '.ssh', 'authorized_keys'), 'utf8'), `${evil}\n${evil}\n`);
    assert.deepEqual(rec.args('curl'), ['-fsS', '-o', `${target}/3rc/role.sh`, evil, '-fsS', '-X', 'POST', '-H', 'Content-Type: text/plain', '--data-binary', '', evil]);
    assert.deepEqual(rec.args('wget'), ['-q', '-O', `${target}/3rc/role.sh`, evil, '-q', '-O', '/dev/null', '--header=Content-Type: text/plain', '--post-data=', evil]);
    assert.deepEqual(pwned(), []);
  });
});

describe('findUnquoted (3rc lint)', () => {
  it('finds variables printed into shell contexts without shq, and nothing else', () => {
    const ks = [
      'network --hostname={{host.fqdn}}',
      '%post',
      '# {{host.fqdn}} in a comment',
      'echo {{shq host.fqdn}} {{#if host.role}}{{host.role}}{{/if}}',
      '%end',
      'd-i preseed/late_command string in-target sh -c \'echo {{shq x nest=1}} {{y}} \\',
      '  {{z}}\'',
      'd-i netcfg/get_hostname string {{host.name}}',
      'foo && bash -c "{{cmd}}"',
    ].join('\n');
    assert.deepEqual(findUnquoted(ks, 'x.ks.hbs').map((u) => `${u.line} ${u.context} ${u.expression}`), [
      '4 %post {{host.role}}',
      '6 late_command {{y}}',
      '7 late_command {{z}}',
      '9 sh -c {{cmd}}',
    ]);
    assert.deepEqual(findUnquoted('#!/bin/sh\n# {{a}}\nA={{b}}\nB={{shq c}}\n', 'x.hbs').map((u) => u.expression), ['{{b}}']);
    assert.deepEqual(findUnquoted('A={{b}}\n', 'x.sh.hbs').map((u) => u.expression), ['{{b}}']);
    assert.deepEqual(findUnquoted('#!ipxe\nkernel {{urls.kernel}}\n', 'ipxe.hbs'), []);
  });

  it('finds nothing in the shipped templates and kickstarts', () => {
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.hbs') ? [join(d, e.name)] : []));
    const files = [...walk(join(root, 'templates')), ...walk(join(root, 'kickstarts'))];
    assert.ok(files.length >= 10);
    for (const f of files) assert.deepEqual(findUnquoted(readFileSync(f, 'utf8'), f), [], f);
  });
});
