/**
 * A large config file read in a short-lived child process (issue 26: memory).
 *
 * Parsing YAML builds a document tree several times the size of the file (the `yaml` library does
 * so for `parse` and `parseDocument` alike), and zod's validation adds its own garbage: a
 * 10,000-host file of 1.7 MB takes a Node process from about 50 to about 200 MB peak RSS, and V8
 * keeps most of those pages afterwards. A worker thread would not help (its heap is this
 * process's). So a file from `APART_FROM_BYTES` up is read by a child node process running the
 * same loadConfig; it sends back the validated config as JSON (every value in a Config is a
 * string, number, boolean, array or plain object), which costs this process about its own size.
 * Problems come back as the same ConfigError (code, file, line, path, message), so an operator
 * sees exactly what an in-process load would have said. The child costs a node start-up and the
 * JSON: 0.2-0.9 s more than the 2.2-2.9 s an in-process load of 10,000 hosts took on a loaded
 * 2-core machine. So a small file is read in place (it would save only a few MB).
 *
 * Asynchronous: a reload (SIGHUP) reads the file while the servers go on answering.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, ErrorCodes, type ConfigProblem, type ErrorCode } from '../lib/errors.js';
import type { Config } from './load.js';

/** Files from this size up are read in a child process. */
export const APART_FROM_BYTES = 256 * 1024;

/** What the child writes to its standard output (load-apart-child.ts). */
export type ApartAnswer = { ok: true; config: Config } | { ok: false; code: ErrorCode; problems: ConfigProblem[] };

const CHILD = fileURLToPath(new URL('./load-apart-child.js', import.meta.url));

/**
 * loadConfig(file), in a child process when the file is large (`fromBytes`, default
 * APART_FROM_BYTES). Throws ConfigError as loadConfig does.
 */
export async function loadConfigApart(file: string, opts: { fromBytes?: number } = {}): Promise<Config> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return loadInPlace(file); // its own "cannot read config" error
  }
  if (size < (opts.fromBytes ?? APART_FROM_BYTES)) return loadInPlace(file);
  const answer = await runChild(file);
  if (answer.ok) return answer.config;
  throw new ConfigError(answer.code, answer.problems);
}

/**
 * loadConfig in this process. Imported on first use: the parser and the schema (yaml, zod: about
 * 10 MB of RSS once loaded) stay out of a process whose config is read apart.
 */
async function loadInPlace(file: string): Promise<Config> {
  const { loadConfig } = await import('./load.js');
  return loadConfig(file);
}

function runChild(file: string): Promise<ApartAnswer> {
  return new Promise((resolve, reject) => {
    // Without the serving process's V8 flags (a small young generation would only slow the parse).
    const child = spawn(process.execPath, [CHILD, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => reject(new ConfigError(ErrorCodes.CONFIG_READ, [{ file, path: '', message: `cannot read config: the loader process did not start (${e.message})` }], { cause: e })));
    child.once('close', (code, signal) => {
      if (code === 0) {
        try {
          return resolve(JSON.parse(Buffer.concat(out).toString('utf8')) as ApartAnswer);
        } catch {
          // falls through: output cut short
        }
      }
      const why = signal ? `killed by ${signal}` : `exit code ${code}`;
      reject(new ConfigError(ErrorCodes.CONFIG_READ, [{ file, path: '', message: `cannot read config: the loader process failed (${why}): ${err.trim().split('\n').slice(-3).join(' ') || 'no output'}` }]));
    });
  });
}
