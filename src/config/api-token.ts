/**
 * The API bearer token. THREERC_API_TOKEN wins; otherwise the token file (api.tokenFile, default
 * api-token beside the store). `3rc serve` creates that file (random, mode 0600) the first time,
 * so a fresh install is never open for changes; the CLI reads the same file.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hasErrno } from '../lib/errors.js';
import type { Config } from './load.js';

export const TOKEN_ENV = 'THREERC_API_TOKEN';

export interface ApiToken {
  token: string;
  /** Where it came from, for the log line (never the token itself). */
  source: string;
}

export function readApiToken(config: Pick<Config, 'api'>, env: NodeJS.ProcessEnv = process.env): ApiToken | undefined {
  const fromEnv = env[TOKEN_ENV]?.trim();
  if (fromEnv) return { token: fromEnv, source: `environment variable ${TOKEN_ENV}` };
  try {
    const token = readFileSync(config.api.tokenFile, 'utf8').trim();
    return token ? { token, source: config.api.tokenFile } : undefined;
  } catch (err) {
    if (hasErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/** Reads the token, creating the token file first when there is none. */
export function ensureApiToken(config: Pick<Config, 'api'>, env: NodeJS.ProcessEnv = process.env): ApiToken & { created: boolean } {
  const existing = readApiToken(config, env);
  if (existing) return { ...existing, created: false };
  const token = randomBytes(24).toString('base64url');
  mkdirSync(dirname(config.api.tokenFile), { recursive: true, mode: 0o700 });
  writeFileSync(config.api.tokenFile, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, source: config.api.tokenFile, created: true };
}
