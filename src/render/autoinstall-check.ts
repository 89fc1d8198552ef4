/**
 * `3rc lint`'s checks of a rendered NoCloud user-data: a `#cloud-config` that parses as a YAML
 * mapping (read as YAML 1.1, as cloud-init's PyYAML reads it: `yes` is a boolean there); and for
 * Ubuntu's autoinstall, its `autoinstall:` section checked against subiquity's published JSON
 * schema (templates/schemas/subiquity-autoinstall-schema.json, vendored with its source).
 * Pure but for reading the schema file once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { packageRoot } from '../lib/paths.js';
import { checkSchema, validate, type JsonSchema } from './json-schema.js';

export interface UserDataProblem {
  /** 1-based line of the rendered text, when the problem has one. */
  line?: number;
  message: string;
}

export const AUTOINSTALL_SCHEMA_FILE = join('templates', 'schemas', 'subiquity-autoinstall-schema.json');

let cached: JsonSchema | undefined;

/** subiquity's autoinstall schema, as vendored (checked once to use only keywords the validator knows). */
export function autoinstallSchema(): JsonSchema {
  if (cached) return cached;
  const schema: unknown = JSON.parse(readFileSync(join(packageRoot(), AUTOINSTALL_SCHEMA_FILE), 'utf8'));
  checkSchema(schema);
  return (cached = schema);
}

/** The cloud-config of a rendered user-data, or the problems that keep it from being one. */
export function parseCloudConfig(text: string): { config: Record<string, unknown> } | { problems: UserDataProblem[] } {
  if (!/^#cloud-config[ \t]*(\r?\n|$)/.test(text)) return { problems: [{ line: 1, message: 'a NoCloud user-data must start with the line #cloud-config (cloud-init ignores anything else as cloud-config)' }] };
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    // The first error: the others usually follow from it.
    const e = doc.errors[0]!;
    return { problems: [{ ...(e.linePos?.[0] ? { line: e.linePos[0].line } : {}), message: `not YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` }] };
  }
  const config: unknown = doc.toJS();
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return { problems: [{ message: 'the cloud-config is not a mapping' }] };
  return { config: config as Record<string, unknown> };
}

/** Problems of a rendered user-data as a cloud-config (empty: it is one). */
export function checkCloudConfig(text: string): UserDataProblem[] {
  const parsed = parseCloudConfig(text);
  return 'problems' in parsed ? parsed.problems : [];
}

/** Problems of a rendered autoinstall user-data: cloud-config, an `autoinstall:` mapping, valid against subiquity's schema. */
export function checkAutoinstall(text: string, schema: JsonSchema = autoinstallSchema()): UserDataProblem[] {
  const parsed = parseCloudConfig(text);
  if ('problems' in parsed) return parsed.problems;
  const ai = parsed.config.autoinstall;
  if (typeof ai !== 'object' || ai === null || Array.isArray(ai)) return [{ message: 'no autoinstall: mapping (subiquity reads its answers from the autoinstall key of the cloud-config)' }];
  return validate(schema, ai, 'autoinstall').map((p) => ({ message: `${p.path}: ${p.message} (subiquity's autoinstall schema)` }));
}
