/**
 * Runs commands on hypervisors (and guests) over SSH, with ssh2. Host keys are checked against a
 * known_hosts file and, for guests, the keys 3rc learned from their installs (kept in the store,
 * learned-keys.ts), and nothing else: no entry or a different key means no connection (the error
 * names the host and where its keys were looked up). One connection per target is kept open and shared by
 * concurrent commands (OpenSSH allows 10 sessions per connection by default), then closed after
 * an idle period; keepalives notice a peer that vanished.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { lazyRequire } from '../lib/lazy.js';
import { RemoteError, SshErrorCodes } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { checkHostKey, hostFieldMatches, hostForm, hostKeyAlgorithms, knownKeyTypes, parseKnownHosts, type KnownHostEntry } from './known-hosts.js';

/** ssh2, loaded at the first connection (lib/lazy.ts): a 3rc with HA off never loads it. */
const ssh2 = lazyRequire<typeof import('ssh2')>('ssh2');

export { SshErrorCodes };

export type SshErrorCode = (typeof SshErrorCodes)[keyof typeof SshErrorCodes];

/** An SSH failure with a stable code and the target it is about. */
export class SshError extends RemoteError<SshErrorCode> {}

/** True when err is an SshError (with this code, when given). */
export function isSshError(err: unknown, code?: SshErrorCode): err is SshError {
  return err instanceof SshError && (code === undefined || err.code === code);
}

/** Where and how to log in. */
export interface SshTarget {
  /** Name for messages, logs and known_hosts look-ups (the inventory name). */
  name: string;
  /** Address to connect to; also looked up in known_hosts. */
  address: string;
  port: number;
  user: string;
  /** Private key file (OpenSSH or PEM format, unencrypted). */
  keyFile?: string;
  /** known_hosts file (only read). */
  knownHostsFile?: string;
  /**
   * The host keys 3rc learned for this host (the store's record, learned-keys.ts), read for every
   * new connection; null when none were learned. When there are some, they are the host's only
   * accepted keys: the file's lines naming the host no longer count (a reinstalled host's old keys
   * are refused), its @revoked lines still do.
   */
  learnedKeys?: () => Promise<readonly { keyType: string; base64: string }[] | null>;
}

/** What a command that ran to completion left behind. */
export interface RunResult {
  /** Exit status; null when the command died of a signal. */
  code: number | null;
  /** Signal name (e.g. KILL) when the command died of one. */
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Per-command options. */
export interface RunOptions {
  /** Kill the command (and fail with TIMEOUT) after this long. */
  timeoutMs: number;
}

/** The narrow interface the drivers use, so that they can be tested with a fake. */
export interface SshRunner {
  run(target: SshTarget, command: string, opts: RunOptions): Promise<RunResult>;
}

/** Pool-wide settings; the defaults suit hypervisors on a LAN. */
export interface SshPoolOptions {
  /** TCP connect + SSH handshake + authentication. Default: 10 s. */
  connectTimeoutMs?: number;
  /** Close a connection no command used for this long. Default: 60 s. */
  idleCloseMs?: number;
  /** Keepalive interval; 3 unanswered ones drop the connection. Default: 10 s. */
  keepaliveMs?: number;
  /**
   * Commands run at once on one connection; more wait their turn (OpenSSH's MaxSessions is 10
   * by default and frees a slot a little after the channel closes). Default: 5.
   */
  maxSessions?: number;
  /** Output kept per stream; the rest is dropped. Default: 4 MiB. */
  maxOutputBytes?: number;
  log?: Logger;
}

/** Host key algorithms ssh2 can verify; others in known_hosts are ignored. */
const SUPPORTED_HOST_KEY_ALGS = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);

interface Conn {
  key: string;
  client: Client;
  ready: Promise<void>;
  closed: boolean;
  active: number;
  idle: NodeJS.Timeout | null;
  /** Channels to fail when the connection drops. */
  onDrop: Set<() => void>;
  /** Sessions open now, and commands waiting for one. */
  sessions: number;
  queue: (() => void)[];
}

/** SSH connections, one per target, reused and closed when idle. */
export class SshPool implements SshRunner {
  private readonly conns = new Map<string, Conn>();
  private readonly o: Required<Omit<SshPoolOptions, 'log'>> & { log?: Logger };

  constructor(opts: SshPoolOptions = {}) {
    this.o = {
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      idleCloseMs: opts.idleCloseMs ?? 60_000,
      keepaliveMs: opts.keepaliveMs ?? 10_000,
      maxSessions: opts.maxSessions ?? 5,
      maxOutputBytes: opts.maxOutputBytes ?? 4 * 1024 * 1024,
      log: opts.log,
    };
  }

  /**
   * Runs `command` with /bin/sh on the target (see killable()). Resolves with the exit status
   * and output whatever the status; rejects with an SshError when the command could not run to
   * completion (connect, host key, auth, timeout, dropped connection).
   */
  async run(target: SshTarget, command: string, opts: RunOptions): Promise<RunResult> {
    for (let attempt = 0; ; attempt++) {
      const { conn, reused } = await this.connection(target);
      try {
        return await this.exec(conn, target, command, opts);
      } catch (err) {
        // EXEC: the command never started, so trying again is safe.
        if (!isSshError(err, SshErrorCodes.EXEC)) throw err;
        if (conn.closed) {
          // A pooled connection can be dead without us knowing yet (the peer rebooted): one
          // more try, on a fresh connection.
          if (!reused || attempt > 0) throw err;
          continue;
        }
        // A live connection refused a session: sshd frees a session slot a little after the
        // channel closes, so a busy connection can briefly be over MaxSessions. Wait, retry.
        if (attempt >= 5) throw err;
        await delay(50 * (attempt + 1));
      }
    }
  }

  /**
   * `reboot` (or another command) in a guest. 'started' when the guest accepted it: exit status
   * 0, death by a signal, or the connection dropping while it ran (the guest went down under
   * us, which is what a reboot does). 'unreachable' otherwise (no connection, refused, failed).
   */
  async reboot(target: SshTarget, opts: RunOptions & { command?: string }): Promise<'started' | 'unreachable'> {
    try {
      const r = await this.run(target, opts.command ?? 'reboot', opts);
      if (r.code === 0 || r.signal !== null) return 'started';
      this.o.log?.warn({ host: target.name, code: r.code, stderr: r.stderr.trim().slice(0, 500) }, 'reboot refused by the guest');
      return 'unreachable';
    } catch (err) {
      if (isSshError(err, SshErrorCodes.DROPPED)) return 'started';
      this.o.log?.warn({ host: target.name, err: (err as Error).message }, 'reboot not delivered');
      return 'unreachable';
    }
  }

  /** Connections open or opening now. */
  get openConnections(): number {
    return this.conns.size;
  }

  /** Closes every connection (for shutdown and tests). */
  closeAll(): void {
    for (const c of [...this.conns.values()]) this.drop(c);
  }

  // ---- internals ----------------------------------------------------------------------------

  private poolKey(t: SshTarget): string {
    return JSON.stringify([t.user, t.address, t.port, t.keyFile ?? null, t.knownHostsFile ?? null]);
  }

  /** The target's connection, ready; a new one when none is open. */
  private async connection(t: SshTarget): Promise<{ conn: Conn; reused: boolean }> {
    const key = this.poolKey(t);
    const existing = this.conns.get(key);
    const reused = existing !== undefined && !existing.closed;
    const conn = reused ? existing : this.open(t, key);
    if (!reused) this.conns.set(key, conn);
    // Held while we wait, so that the idle timer cannot close it under us.
    this.hold(conn);
    try {
      await conn.ready;
    } finally {
      this.release(conn);
    }
    return { conn, reused };
  }

  private open(t: SshTarget, key: string): Conn {
    const client = new (ssh2().Client)();
    const c: Conn = { key, client, ready: Promise.resolve(), closed: false, active: 0, idle: null, onDrop: new Set(), sessions: 0, queue: [] };
    c.ready = (async () => {
      const { knownHosts, names, where } = await this.loadKnownHosts(t);
      const privateKey = await this.loadKey(t);
      const types = knownKeyTypes(knownHosts, names);
      const algs = hostKeyAlgorithms(types).filter((a) => SUPPORTED_HOST_KEY_ALGS.has(a));
      if (algs.length === 0) {
        throw new SshError(SshErrorCodes.HOST_UNKNOWN, t.name, `no host key for ${t.name} (${names.join(', ')}) in ${where}: refusing to connect (add it with ssh-keyscan after checking its fingerprint)`);
      }
      // closeAll() while we read the files: do not open a connection nobody will close.
      if (c.closed) throw new SshError(SshErrorCodes.CONNECT, t.name, `ssh connection to ${t.name} closed before it was opened`);
      let refusal: SshError | null = null;
      const config: ConnectConfig = {
        host: t.address,
        port: t.port,
        username: t.user,
        privateKey,
        readyTimeout: this.o.connectTimeoutMs,
        keepaliveInterval: this.o.keepaliveMs,
        keepaliveCountMax: 3,
        // Offer only the algorithms of keys we hold, so the server proves a key we can compare.
        algorithms: { serverHostKey: algs as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
        hostVerifier: (blob: Buffer) => {
          const v = checkHostKey(knownHosts, names, blob);
          if (v.result === 'match') return true;
          refusal = new SshError(
            SshErrorCodes.HOST_KEY_MISMATCH,
            t.name,
            v.result === 'revoked'
              ? `host key of ${t.name} (${t.address}:${t.port}) is marked @revoked in ${t.knownHostsFile}:${v.line}: refusing to connect`
              : v.result === 'mismatch'
                ? `host key of ${t.name} (${t.address}:${t.port}) does not match ${where}${v.lines.some((l) => l > 0) ? ` (lines ${v.lines.join(', ')})` : ''}: refusing to connect; the key changed or someone is in the middle`
                : `no host key for ${t.name} (${names.join(', ')}) in ${where}: refusing to connect`,
          );
          return false;
        },
      };
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        client.once('ready', () => {
          settled = true;
          resolve();
        });
        client.on('error', (err: Error & { level?: string }) => {
          if (settled) {
            this.o.log?.debug({ host: t.name, err: err.message }, 'ssh connection error');
            return;
          }
          settled = true;
          if (refusal) return reject(refusal);
          const code = err.level === 'client-authentication' ? SshErrorCodes.AUTH : SshErrorCodes.CONNECT;
          const what = code === SshErrorCodes.AUTH ? `ssh login as ${t.user} refused by ${t.name} (${t.address}:${t.port})` : `cannot reach ${t.name} over ssh (${t.address}:${t.port})`;
          reject(new SshError(code, t.name, `${what}: ${err.message}`, { cause: err }));
        });
        client.on('close', () => {
          this.markClosed(c);
          if (!settled) {
            settled = true;
            reject(refusal ?? new SshError(SshErrorCodes.CONNECT, t.name, `ssh connection to ${t.name} (${t.address}:${t.port}) closed during the handshake`));
          }
        });
        try {
          client.connect(config);
        } catch (err) {
          // ssh2 parses the private key synchronously here (bad format, passphrase needed).
          settled = true;
          reject(new SshError(SshErrorCodes.KEY, t.name, `cannot use ssh private key ${t.keyFile} for ${t.name}: ${(err as Error).message}`, { cause: err }));
        }
      });
    })();
    c.ready.catch(() => this.drop(c));
    return c;
  }

  /**
   * The entries a new connection checks the host key against, and where they come from (for
   * messages). Read for every new connection, never cached: keys learned from an install-done call
   * apply to the next connection to the reinstalled host.
   */
  private async loadKnownHosts(t: SshTarget): Promise<{ knownHosts: KnownHostEntry[]; names: string[]; where: string }> {
    if (!t.knownHostsFile && !t.learnedKeys) {
      throw new SshError(SshErrorCodes.KNOWN_HOSTS, t.name, `no known_hosts file configured for ${t.name} (ssh.knownHosts): refusing to connect without checking its host key`);
    }
    const names = [...new Set([hostForm(t.address, t.port), hostForm(t.name, t.port)])];
    let fromFile: KnownHostEntry[] = [];
    if (t.knownHostsFile) {
      try {
        fromFile = parseKnownHosts(await readFile(t.knownHostsFile, 'utf8'));
      } catch (err) {
        throw new SshError(SshErrorCodes.KNOWN_HOSTS, t.name, `cannot read known_hosts file ${t.knownHostsFile} for ${t.name}: ${(err as Error).message}`, { cause: err });
      }
    }
    let learned: readonly { keyType: string; base64: string }[] | null = null;
    try {
      learned = (await t.learnedKeys?.()) ?? null;
    } catch (err) {
      throw new SshError(SshErrorCodes.KNOWN_HOSTS, t.name, `cannot read the host keys learned for ${t.name} from the store: ${(err as Error).message}`, { cause: err });
    }
    const file = t.knownHostsFile ? `known_hosts file ${t.knownHostsFile}` : null;
    if (!learned || learned.length === 0) return { knownHosts: fromFile, names, where: [file, t.learnedKeys ? 'the keys learned from its installs (none)' : null].filter(Boolean).join(' or ') };
    // Learned keys replace the file's lines for this host; @revoked lines and other hosts' stay.
    const others = fromFile.filter((e) => e.marker === 'revoked' || !names.some((h) => hostFieldMatches(e.hosts, h)));
    const mine = learned.map((k): KnownHostEntry => ({ line: 0, marker: null, hosts: names[0]!, keyType: k.keyType, key: Buffer.from(k.base64, 'base64') }));
    return { knownHosts: [...others, ...mine], names, where: 'the host keys learned from its latest install (store)' };
  }

  private async loadKey(t: SshTarget): Promise<Buffer> {
    if (!t.keyFile) throw new SshError(SshErrorCodes.KEY, t.name, `no ssh private key configured for ${t.name} (ssh.key)`);
    try {
      return await readFile(t.keyFile);
    } catch (err) {
      throw new SshError(SshErrorCodes.KEY, t.name, `cannot read ssh private key ${t.keyFile} for ${t.name}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async exec(c: Conn, t: SshTarget, command: string, opts: RunOptions): Promise<RunResult> {
    this.hold(c);
    // A waiter is woken with the slot of the session that ended (never counted twice).
    if (c.sessions < this.o.maxSessions) c.sessions += 1;
    else await new Promise<void>((resolve) => c.queue.push(resolve));
    try {
      return await this.session(c, t, command, opts);
    } finally {
      const next = c.queue.shift();
      if (next) next();
      else c.sessions -= 1;
      this.release(c);
    }
  }

  private session(c: Conn, t: SshTarget, command: string, opts: RunOptions): Promise<RunResult> {
    const max = this.o.maxOutputBytes;
    return new Promise<RunResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      let code: number | null = null;
      let signal: string | null = null;
      let exited = false;
      let done = false;
      let stream: ClientChannel | null = null;
      const finish = (e: SshError | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        c.onDrop.delete(onDrop);
        if (e) reject(e);
        else resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      };
      const onDrop = () => finish(new SshError(SshErrorCodes.DROPPED, t.name, `ssh connection to ${t.name} dropped while running: ${brief(command)}`));
      c.onDrop.add(onDrop);
      const timer = setTimeout(() => {
        const ch = stream;
        if (ch) {
          // Ask the watchdog of killable() to kill the command's process group; the SSH signal
          // request does the same where sshd honours it (not for root logins: sshd refuses it
          // without post-auth privilege separation). Then close the channel, at the latest
          // after a grace period if the command ignores both.
          try {
            ch.end('KILL\n');
            ch.signal('KILL');
          } catch {
            /* the channel is already going away */
          }
          setTimeout(() => ch.close(), 2000).unref();
        }
        finish(new SshError(SshErrorCodes.TIMEOUT, t.name, `command on ${t.name} timed out after ${opts.timeoutMs} ms and was killed: ${brief(command)}`));
      }, opts.timeoutMs);
      const refused = (e: unknown) =>
        finish(new SshError(SshErrorCodes.EXEC, t.name, `${t.name} refused to run a command: ${(e as Error)?.message ?? e}`, { cause: e }));
      if (c.closed) return refused(new Error('connection closed'));
      try {
        c.client.exec(killable(command), onChannel);
      } catch (e) {
        refused(e);
      }
      function onChannel(e: Error | undefined, s: ClientChannel): void {
        if (done) {
          s?.close();
          return;
        }
        if (e) return refused(e);
        stream = s;
        s.on('data', (d: Buffer) => {
          if (outLen < max) out.push(d);
          outLen += d.length;
        });
        s.stderr.on('data', (d: Buffer) => {
          if (errLen < max) err.push(d);
          errLen += d.length;
        });
        s.on('exit', (exitCode: number | null, sig?: string) => {
          exited = true;
          code = typeof exitCode === 'number' ? exitCode : null;
          signal = sig ?? null;
        });
        s.on('close', () => {
          if (exited) finish(null);
          else onDrop();
        });
      }
    });
  }

  private hold(c: Conn): void {
    c.active += 1;
    if (c.idle) clearTimeout(c.idle);
    c.idle = null;
  }

  private release(c: Conn): void {
    c.active -= 1;
    if (c.active > 0 || c.closed) return;
    c.idle = setTimeout(() => this.drop(c), this.o.idleCloseMs);
    c.idle.unref();
  }

  private markClosed(c: Conn): void {
    if (c.closed) return;
    c.closed = true;
    if (c.idle) clearTimeout(c.idle);
    c.idle = null;
    if (this.conns.get(c.key) === c) this.conns.delete(c.key);
    for (const f of [...c.onDrop]) f();
    // Waiting commands go on, and fail fast on the closed connection (EXEC, then a fresh one).
    for (const w of c.queue.splice(0)) {
      c.sessions += 1;
      w();
    }
  }

  private drop(c: Conn): void {
    this.markClosed(c);
    c.client.end();
  }
}

/**
 * Wraps a command so that a timeout can kill it with everything it started, whatever the SSH
 * server allows. The session's processes share one process group (sshd runs each session under
 * setsid, and a non-interactive shell has no job control). A watchdog in that group reads the
 * channel's stdin: the line KILL makes it `kill -9 0`, the whole group; a plain EOF (the normal
 * end of the channel) makes it exit without touching anything, so children the command
 * detached on purpose survive. The command runs with stdin from /dev/null, by `/bin/sh -c` (the
 * same shell on every host, whatever the user's login shell sources), in a process of its own so
 * that a `wait` in it does not wait for the watchdog. The login shell must be POSIX (sh, bash,
 * dash, BusyBox ash); sshd runs the wrapper with it.
 */
export function killable(command: string): string {
  const q = `'${command.replace(/'/g, `'\\''`)}'`;
  return `exec 3<&0 </dev/null; { read -r x <&3; [ "$x" = KILL ] && kill -9 0; } >/dev/null 2>&1 & exec 3<&-; exec /bin/sh -c ${q}`;
}

function brief(command: string): string {
  return command.length > 120 ? `${command.slice(0, 117)}...` : command;
}
