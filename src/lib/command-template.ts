/**
 * Command templates of the command driver, e.g. `qm start {{vmid}}`.
 *
 * Syntax: `{{name}}` (spaces inside the braces allowed), name = letters, digits, `_`, `.`,
 * starting with a letter or `_`. Every substituted value is shell-quoted as one literal word, so
 * a placeholder must stand outside quotes in the template: `virsh start {{vm}}` and
 * `/etc/xen/{{vm}}.cfg` are fine, `'{{vm}}'` and `"{{vm}}"` are refused when the template is
 * compiled (the value would be quoted twice, or not at all). To hand a value to awk or another
 * program with its own syntax, pass it as an argument: `awk -v n={{vm}} '$2 == n {print $1}'`.
 * There is no escape for a literal `{{`.
 */
import { TemplateError } from './errors.js';

/** POSIX shell single-quoting: the value reaches the command as one literal word. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

type Part = { text: string } | { name: string };

/** A parsed template: literal text and placeholders. */
export interface CommandTemplate {
  source: string;
  parts: readonly Part[];
  /** Placeholder names, once each, in order. */
  names: readonly string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/** Parses a template; throws TemplateError for a bad placeholder or one inside quotes. */
export function compileTemplate(source: string): CommandTemplate {
  const parts: Part[] = [];
  const names: string[] = [];
  let text = '';
  // POSIX shell quoting state, to refuse placeholders inside quotes.
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < source.length; ) {
    if (source.startsWith('{{', i)) {
      const end = source.indexOf('}}', i + 2);
      if (end < 0) throw new TemplateError(`unclosed {{ at offset ${i} in ${JSON.stringify(source)}`);
      const name = source.slice(i + 2, end).trim();
      if (!NAME.test(name)) throw new TemplateError(`bad placeholder {{${name}}} in ${JSON.stringify(source)}: expected a name like vm or vmid`);
      if (quote !== null) {
        throw new TemplateError(`placeholder {{${name}}} is inside ${quote === "'" ? 'single' : 'double'} quotes in ${JSON.stringify(source)}: put it outside quotes, its value is quoted for you`);
      }
      if (text) parts.push({ text });
      text = '';
      parts.push({ name });
      if (!names.includes(name)) names.push(name);
      i = end + 2;
      continue;
    }
    const ch = source[i]!;
    if (quote === null && ch === '\\') {
      text += source.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (quote === '"' && ch === '\\') {
      text += source.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (quote === null && (ch === "'" || ch === '"')) quote = ch;
    else if (quote === ch) quote = null;
    text += ch;
    i += 1;
  }
  if (quote !== null) throw new TemplateError(`unterminated ${quote} quote in ${JSON.stringify(source)}`);
  if (text) parts.push({ text });
  return { source, parts, names };
}

/** A host's scalar vars (strings and numbers, as text) as placeholder values; other vars are left out. */
export function scalarVars(vars: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars ?? {})) if (typeof v === 'string' || typeof v === 'number') out[k] = String(v);
  return out;
}

/** Fills a template; every value is shell-quoted. Throws TemplateError naming a missing value. */
export function renderTemplate(t: CommandTemplate, values: Readonly<Record<string, string | undefined>>): string {
  let out = '';
  for (const p of t.parts) {
    if ('text' in p) out += p.text;
    else {
      const v = values[p.name];
      if (v === undefined) throw new TemplateError(`no value for {{${p.name}}} in ${JSON.stringify(t.source)}`);
      out += shQuote(v);
    }
  }
  return out;
}

/**
 * A physical host's power command (hosts[].power) filled in: {{host}}, {{ip}}, {{mac}} and the
 * host's scalar vars. Throws TemplateError for a bad template or a placeholder with no value.
 */
export function renderHostCommand(template: string, h: { name: string; ip: string; mac: string; vars?: Readonly<Record<string, unknown>> }): string {
  return renderTemplate(compileTemplate(template), { ...scalarVars(h.vars), host: h.name, ip: h.ip, mac: h.mac });
}
