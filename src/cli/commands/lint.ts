import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadConfig } from '../../config/load.js';
import { Inventory } from '../../inventory/inventory.js';
import { TemplateError } from '../../lib/errors.js';
import { TemplateEngine } from '../../render/engine.js';
import { checkAutoinstall, checkCloudConfig } from '../../render/autoinstall-check.js';
import { checkKickstart } from '../../render/kickstart-check.js';
import { renderNoCloud, userDataTemplate } from '../../render/nocloud.js';
import { loaderConfigs } from '../../render/preview.js';
import { hostSpec, renderIpxe, renderKickstart } from '../../render/render.js';
import { findUnquoted } from '../../render/shell.js';
import { EXIT_FAIL, EXIT_OK, type Io } from '../io.js';

export const help = `Usage: 3rc lint [--config FILE]

Renders every template for every host of the config that uses it (with a stand-in install
token): a missing variable or partial is an error naming the template file, its line and the
host. Preseeds are checked with debconf-set-selections -c; NoCloud user-data (cloud-image and
autoinstall profiles) must be a #cloud-config YAML mapping, and an autoinstall's autoinstall:
section must pass subiquity's published JSON schema (templates/schemas/); kickstarts for balanced
%packages/%pre/%post ... %end sections and known commands; every host's pxelinux.cfg and GRUB
config (grub.cfg-01-<mac>, install and local) is rendered, and the GRUB one checked with
grub-script-check (grub-common; a warning when it is missing). Exits 1 on any error.

Warns (without failing) about every variable a template prints into a shell context without
{{shq ...}}: in a *.sh.hbs or #!/bin/sh template, a kickstart %pre/%post/%onerror section, a
preseed late_command/early_command, or a line running sh -c; and in a #cloud-config template
about every variable printed without {{yq ...}} (one YAML value) or {{shq ...}}. A heuristic over the template
source: {{shq value}} (or {{shq value nest=1}} inside sh -c '...') quotes the value as one shell
word, so data never runs as code.`;

const DEBCONF = '/usr/bin/debconf-set-selections';
const GRUB_CHECK = '/usr/bin/grub-script-check';

/** Every .hbs file under dir, sorted. */
function templates(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? templates(join(dir, e.name)) : e.name.endsWith('.hbs') ? [join(dir, e.name)] : [])).sort();
}

export function run(configFile: string, io: Io): number {
  const config = loadConfig(configFile);
  const inventory = Inventory.fromConfig(config);
  const engine = new TemplateEngine({ templates: config.paths.templates, kickstarts: config.paths.kickstarts });
  const deps = { config, inventory, engine };
  const errors: string[] = [];
  const seen = new Set<string>();
  const rel = (f: string) => {
    const r = relative(process.cwd(), f);
    return r && !r.startsWith('..') ? r : f;
  };
  const tmp = mkdtempSync(join(tmpdir(), '3rc-lint-'));
  let renders = 0;
  try {
    for (const host of inventory.hosts()) {
      const entry = { mac: host.mac, mode: 'install' as const, profile: host.profile, token: 'LINT-TOKEN', since: 0 };
      const add = (msg: string) => {
        if (!seen.has(msg)) errors.push(msg);
        seen.add(msg);
      };
      const attempt = <T>(fn: () => T): T | undefined => {
        try {
          renders++;
          return fn();
        } catch (err) {
          if (err instanceof TemplateError && err.file) add(`${rel(err.file)}${err.line ? `:${err.line}` : ''}: ${err.detail} (host ${host.name})`);
          else add(`${host.name}: ${(err as Error).message}`);
          return undefined;
        }
      };
      attempt(() => renderIpxe(deps, host, hostSpec(deps, host, entry)));
      // The loader configs, installing and booting locally; GRUB's through GRUB's own parser.
      for (const e of [entry, { ...entry, mode: 'local' as const }]) {
        const cfgs = attempt(() => loaderConfigs(deps, hostSpec(deps, host, e)));
        if (!cfgs || !existsSync(GRUB_CHECK)) continue;
        const file = join(tmp, `${host.name}.${e.mode}.grub.cfg`);
        writeFileSync(file, cfgs.grub.text);
        try {
          execFileSync(GRUB_CHECK, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
        } catch (err) {
          const out = `${String((err as { stdout?: Buffer }).stdout ?? '')}${String((err as { stderr?: Buffer }).stderr ?? '')}`.trim().replace(new RegExp(file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'g'), 'rendered');
          add(`${rel(cfgs.grub.file)}: grub-script-check refused the rendered GRUB config (host ${host.name}, ${e.mode}): ${out.split('\n').join(' | ')}`);
        }
      }
      const profile = inventory.profile(host.profile)!;
      // NoCloud: the user-data a cloud-init (or Ubuntu's installer) fetches must be a cloud-config;
      // an autoinstall one must also pass subiquity's schema.
      if (userDataTemplate(profile)) {
        const ud = attempt(() => renderNoCloud(deps, host, entry, 'user-data'));
        if (ud) {
          const problems = profile.installer === 'autoinstall' ? checkAutoinstall(ud.text) : checkCloudConfig(ud.text);
          for (const p of problems) add(`${rel(ud.file)}: rendered user-data${p.line ? ` line ${p.line}` : ''}: ${p.message} (host ${host.name})`);
        }
        if (profile.installer === 'autoinstall') continue;
      }
      if (!profile.template) continue;
      const ks = attempt(() => renderKickstart(deps, host, entry));
      if (!ks) continue;
      if (profile.installer === 'kickstart') {
        for (const p of checkKickstart(ks.text)) add(`${rel(ks.file)}: rendered line ${p.line}: ${p.message} (host ${host.name})`);
      } else if (profile.installer === 'preseed') {
        if (!existsSync(DEBCONF)) {
          add(`${rel(ks.file)}: cannot check the preseed: ${DEBCONF} is missing (apt-get install debconf)`);
          continue;
        }
        const file = join(tmp, `${host.name}.preseed`);
        writeFileSync(file, ks.text);
        try {
          execFileSync(DEBCONF, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
        } catch (err) {
          const out = String((err as { stderr?: Buffer }).stderr ?? '').trim().replace(new RegExp(file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'g'), 'rendered');
          add(`${rel(ks.file)}: debconf-set-selections refused the rendered preseed (host ${host.name}): ${out.split('\n').join(' | ')}`);
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const warnings: string[] = [];
  if (!existsSync(GRUB_CHECK)) warnings.push(`warning: GRUB configs rendered but not checked: ${GRUB_CHECK} is missing (apt-get install grub-common)`);
  for (const file of [...templates(config.paths.templates), ...templates(config.paths.kickstarts)]) {
    for (const u of findUnquoted(readFileSync(file, 'utf8'), file)) {
      if (u.context === 'cloud-config') {
        warnings.push(`warning: ${rel(file)}:${u.line}: ${u.expression} is printed into a cloud-config unquoted: write {{yq ...}} (one YAML value), or {{shq ...}} inside a literal block a shell reads`);
        continue;
      }
      warnings.push(`warning: ${rel(file)}:${u.line}: ${u.expression} is printed into a shell context (${u.context}) unquoted: write {{shq ...}}${u.context === 'late_command' || u.context === 'sh -c' ? ' (nest=1 inside sh -c \'...\')' : ''}`);
    }
  }
  for (const e of errors) io.err(e);
  for (const w of warnings) io.err(w);
  io.out(`lint: ${renders} render(s) for ${inventory.hosts().length} host(s): ${errors.length} error(s), ${warnings.length} warning(s)`);
  return errors.length ? EXIT_FAIL : EXIT_OK;
}
