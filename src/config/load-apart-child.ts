/**
 * The child side of load-apart.ts: `node load-apart-child.js FILE` reads and validates FILE with
 * loadConfig and writes one JSON document to standard output, the validated config or the
 * ConfigError's code and problems, then exits. Its memory (the YAML document tree, zod's work)
 * goes back to the system with the process.
 */
import { ConfigError } from '../lib/errors.js';
import { loadConfig } from './load.js';
import type { ApartAnswer } from './load-apart.js';

function answer(file: string): ApartAnswer {
  try {
    return { ok: true, config: loadConfig(file) };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, code: err.code, problems: err.problems };
    throw err;
  }
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: load-apart-child.js FILE\n');
  process.exitCode = 2;
} else {
  // No process.exit: the process ends once the whole document is written.
  process.stdout.write(JSON.stringify(answer(file)));
}
