/**
 * BMC passwords live in files, never in the config. A file that others can read is used, with a
 * warning: refusing it would turn a permissions slip into a fence that cannot run.
 */
import { readFileSync, statSync } from 'node:fs';
import { BmcErrorCodes } from '../lib/errors.js';
import { BmcError } from './driver.js';

/** A warning when the file is readable or writable by group or others (not 0600 or stricter); null otherwise. */
export function secretFileWarning(path: string): string | null {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    return `password file ${path} cannot be read: ${(err as Error).message}`;
  }
  if ((mode & 0o077) !== 0) return `password file ${path} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}; it should be 0600 (readable by 3rc only)`;
  return null;
}

/** The password: the file's first line (a trailing newline is not part of it). */
export function readSecret(host: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').split(/\r?\n/)[0]!;
  } catch (err) {
    throw new BmcError(BmcErrorCodes.SECRET, host, `password file ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}
