/**
 * The known_hosts file 3rc learns reinstalled hosts' keys into (ha.guestSsh.knownHosts with
 * learnHostKeys). Each update reads the file, replaces the host's lines (known-hosts-update.ts)
 * and writes the result atomically: a temporary file in the same directory, fsync, rename, so
 * that an SSH connection opening meanwhile (SshPool reads the file on every new connection) sees
 * the old file or the new one, never half of one. Updates run one at a time.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, realpath, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { hasErrno } from '../lib/errors.js';
import { replaceHostKeys, type HostKey, type KnownHostsTarget } from './known-hosts-update.js';

/** What an update did, for the log and the event. */
export interface HostKeysWritten {
  file: string;
  /** Lines dropped or narrowed because they named the host. */
  replaced: number;
  written: number;
}

/** Where install-done reports of host keys go (one-line fakes in tests). */
export interface HostKeySink {
  /** Makes `keys` the only known keys of the host; rejects when the file cannot be written. */
  learn(host: { name: string; ip: string }, keys: readonly HostKey[]): Promise<HostKeysWritten>;
}

export class KnownHostsFile {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Replaces the target's lines with `keys`, after every update queued before it. */
  replaceHost(target: KnownHostsTarget, keys: readonly HostKey[]): Promise<HostKeysWritten> {
    const run = this.chain.then(() => this.update(target, keys));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async update(target: KnownHostsTarget, keys: readonly HostKey[]): Promise<HostKeysWritten> {
    // Write beside the file a symlink points to, so the link stays a link.
    const file = await realpath(this.path).catch((err: unknown) => {
      if (hasErrno(err, 'ENOENT')) return this.path;
      throw err;
    });
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (!hasErrno(err, 'ENOENT')) throw err;
    }
    const r = replaceHostKeys(text, target, keys);
    await writeAtomic(file, r.text);
    return { file: this.path, replaced: r.removed + r.narrowed, written: keys.length };
  }
}

/** Writes `text` to `file` by rename of a synced temporary file (mode 0600) in the same directory. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  // The rename itself is durable once the directory is synced (not possible everywhere).
  const d = await open(dir, 'r').catch(() => null);
  await d?.sync().catch(() => undefined);
  await d?.close();
}

/**
 * The sink main.ts wires when ha.guestSsh.knownHosts is set and learnHostKeys is on: the host is
 * written by its address (`[address]:port` off port 22), and replaces lines naming its address,
 * its inventory name or its FQDN.
 */
export function knownHostsSink(file: KnownHostsFile, opts: { port: number; domain: string }): HostKeySink {
  return {
    learn: (host, keys) => file.replaceHost({ address: host.ip, port: opts.port, names: [host.name, `${host.name}.${opts.domain}`] }, keys),
  };
}
