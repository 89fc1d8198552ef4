/**
 * Reads a config file: YAML syntax, then the schema, then the cross-field rules, then the files
 * it names. Every problem becomes one line naming the file, the line, the path and what was
 * expected; all of them are reported at once, so an operator fixes a file in one pass.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, ErrorCodes, hasErrno, type ConfigProblem } from '../lib/errors.js';
import { packageRoot } from '../lib/paths.js';
import { compileCommandSpec, compileFence } from '../lib/command-spec.js';
import { checkRules } from './rules.js';
import { configSchema, type RawConfig } from './schema.js';

/** A validated config with absolute paths. */
export interface Config extends Omit<RawConfig, 'paths' | 'api' | 'store'> {
  /** Absolute path of the file it came from. */
  source: string;
  paths: { boot: string; templates: string; kickstarts: string };
  api: { tokenFile: string };
  store: RawConfig['store'];
  /** Things worth telling the operator that do not stop 3rc (missing boot files, ...). */
  warnings: string[];
}

/** `hosts[3].mac` from ['hosts', 3, 'mac']. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function describeType(t: string): string {
  switch (t) {
    case 'array': return 'a list';
    case 'object': return 'a mapping (key: value)';
    case 'string': return 'a string';
    case 'number': return 'a number';
    case 'boolean': return 'true or false';
    default: return t;
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Operator wording for one zod issue. */
function issueMessage(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type':
      return input === undefined ? `is required (expected ${describeType(issue.expected)})` : `expected ${describeType(issue.expected)}, got ${describeValue(input)}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(input)}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (check the spelling against the config reference)`;
    case 'invalid_union':
      return `expected a number of seconds or a duration such as 90s, 3m or 1h, got ${describeValue(input)}`;
    case 'too_small':
      if (issue.origin === 'array') return issue.message.startsWith('expected') ? issue.message : `expected at least ${issue.minimum} entr${issue.minimum === 1 ? 'y' : 'ies'}`;
      if (issue.origin === 'string') return 'must not be empty';
      return `expected a value ${issue.inclusive ? '>=' : '>'} ${issue.minimum}, got ${describeValue(input)}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      return `expected a value ${issue.inclusive ? '<=' : '<'} ${issue.maximum}, got ${describeValue(input)}`;
    default: {
      const got = input !== undefined && issue.code !== 'custom' ? `, got ${describeValue(input)}` : '';
      const withInput = issue.code === 'custom' && input !== undefined && !issue.message.includes(' got ') ? `, got ${describeValue(input)}` : got;
      return `${issue.message}${withInput}`;
    }
  }
}

/** 1-based line of the node at path, or of its nearest existing ancestor. */
function lineOf(doc: Document, counter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

function absolute(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/**
 * Parses and validates config text. `file` is only used in messages and to resolve relative
 * paths. Throws ConfigError listing every problem.
 */
export function parseConfig(text: string, file: string): Config {
  const source = resolve(file);
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      ErrorCodes.CONFIG_SYNTAX,
      doc.errors.map((e) => ({
        file,
        path: '',
        line: counter.linePos(e.pos[0]).line,
        message: `YAML syntax error: ${e.message.split('\n')[0]}`,
      })),
    );
  }
  const data: unknown = doc.toJS() ?? {};
  const parsed = configSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(
      ErrorCodes.CONFIG_INVALID,
      parsed.error.issues.map((issue) => {
        const path = issue.code === 'unrecognized_keys' && issue.keys.length === 1 ? [...issue.path, issue.keys[0]!] : issue.path;
        return { file, path: formatPath(path), line: lineOf(doc, counter, path), message: issueMessage(issue) };
      }),
    );
  }
  const raw = parsed.data;
  const problems: ConfigProblem[] = checkRules(raw).map((p) => ({ file, path: formatPath(p.path), line: lineOf(doc, counter, p.path), message: p.message }));

  const base = dirname(source);
  const root = packageRoot();
  const paths = {
    boot: absolute(base, raw.paths.boot ?? join(root, 'boot')),
    templates: absolute(base, raw.paths.templates ?? join(root, 'templates')),
    kickstarts: absolute(base, raw.paths.kickstarts ?? join(root, 'kickstarts')),
  };
  const storePath = absolute(base, raw.store.path);
  const config: Config = {
    ...raw,
    source,
    paths,
    store: { ...raw.store, path: storePath },
    api: { tokenFile: absolute(base, raw.api.tokenFile ?? join(dirname(storePath), 'api-token')) },
    ha: raw.ha.guestSsh
      ? { ...raw.ha, guestSsh: { ...raw.ha.guestSsh, key: raw.ha.guestSsh.key && absolute(base, raw.ha.guestSsh.key), knownHosts: raw.ha.guestSsh.knownHosts && absolute(base, raw.ha.guestSsh.knownHosts) } }
      : raw.ha,
    hypervisors: raw.hypervisors.map((h) => ({
      ...h,
      ssh: { ...h.ssh, key: h.ssh.key && absolute(base, h.ssh.key), knownHosts: h.ssh.knownHosts && absolute(base, h.ssh.knownHosts) },
    })),
    p2v: { ...raw.p2v, storage: absolute(base, raw.p2v.storage), hypervisorStorage: raw.p2v.hypervisorStorage ?? absolute(base, raw.p2v.storage) },
    warnings: [],
  };

  // Files the config names. Templates ship with 3rc, so a missing one is an error; boot files
  // are fetched separately (boot/fetch.sh), so a missing one is only a warning.
  raw.profiles.forEach((p, i) => {
    for (const key of ['template', 'userData'] as const) {
      const name = p[key];
      if (name && !existsSync(join(paths.kickstarts, name))) {
        const path = ['profiles', i, key];
        problems.push({ file, path: formatPath(path), line: lineOf(doc, counter, path), message: `template ${name} not found in ${paths.kickstarts}` });
      }
    }
    const bootFilesNamed: Array<[string, string | undefined]> = [['kernel', p.kernel], ['initrd', p.initrd], ...Object.entries(p.loaders ?? {}).map(([slot, l]): [string, string | undefined] => [`loaders.${slot}`, l])];
    for (const [field, rel] of bootFilesNamed) {
      if (rel !== undefined && !existsSync(join(paths.boot, rel))) {
        config.warnings.push(`${file}: profiles[${i}].${field}: ${rel} not found under ${paths.boot} yet (see boot/README.md)`);
      }
    }
  });
  // Fence and command templates and patterns compile (placeholders, quoting, regular expressions).
  raw.hypervisors.forEach((h, i) => {
    if (!h.fence) return;
    try {
      compileFence({ name: h.name, address: h.address, fence: h.fence });
    } catch (err) {
      const path = ['hypervisors', i, 'fence'];
      problems.push({ file, path: formatPath(path), line: lineOf(doc, counter, path), message: (err as Error).message });
    }
  });
  raw.hypervisors.forEach((h, i) => {
    if (h.driver !== 'command' || !h.command) return;
    try {
      compileCommandSpec({ name: h.name, address: h.address, command: h.command });
    } catch (err) {
      const path = ['hypervisors', i, 'command'];
      problems.push({ file, path: formatPath(path), line: lineOf(doc, counter, path), message: (err as Error).message });
    }
  });
  if (problems.length > 0) throw new ConfigError(ErrorCodes.CONFIG_INVALID, problems);
  return config;
}

/** Reads and validates a config file. Throws ConfigError. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const why = hasErrno(err, 'ENOENT') ? 'file not found' : hasErrno(err, 'EACCES') ? 'permission denied' : String((err as Error).message);
    throw new ConfigError(ErrorCodes.CONFIG_READ, [{ file, path: '', message: `cannot read config: ${why}` }], { cause: err });
  }
  return parseConfig(text, file);
}
