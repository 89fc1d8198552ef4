/**
 * A real OpenSSH server for tests: `sshd -D -e` on 127.0.0.1 (or another loopback address) at a
 * free port, with a temporary config, its own host keys, and an AuthorizedKeysFile in the temp
 * dir. Needs root (sshd checks and switches users) and Debian's openssh-server.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { SshPool, type SshTarget } from '../../src/hypervisor/ssh.js';

export const SSHD = '/usr/sbin/sshd';

/** Why the SSH tests cannot run here, or null. */
export function sshdUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root: sshd must run as root to log a user in';
  if (!existsSync(SSHD)) return `${SSHD} missing: apt-get install --no-install-recommends openssh-server`;
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'ssh-keygen missing (openssh-client)';
  }
  return null;
}

/** Makes a key pair with ssh-keygen; returns the private key path and the public key line. */
export function keygen(path: string, type: 'ed25519' | 'ecdsa' | 'rsa'): { key: string; pub: string } {
  const args = ['-q', '-t', type, '-N', '', '-C', '3rc-test', '-f', path];
  if (type === 'rsa') args.push('-b', '2048');
  execFileSync('ssh-keygen', args, { stdio: 'ignore' });
  return { key: path, pub: readFileSync(`${path}.pub`, 'utf8').trim() };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export interface SshdOptions {
  /** Its own directory (config, pid file). */
  dir: string;
  hostKeys: string[];
  authorizedKeys: string;
  /** Environment of every session (sshd_config SetEnv). */
  env?: Record<string, string>;
  /** Address to listen on. Default: 127.0.0.1. */
  address?: string;
  /** Port to listen on. Default: a free one. */
  port?: number;
  /** Network namespace to run in (then give address and port). Default: this one. */
  netns?: string;
}

export interface Sshd {
  port: number;
  /** sshd's log so far (-e: to stderr). */
  log(): string;
  /** Kills every session and the listener: the host is gone from the network. */
  stop(): Promise<void>;
}

export async function startSshd(o: SshdOptions): Promise<Sshd> {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation directory
  mkdirSync(o.dir, { recursive: true });
  const port = o.port ?? (await freePort());
  const config = join(o.dir, 'sshd_config');
  const lines = [
    `Port ${port}`,
    `ListenAddress ${o.address ?? '127.0.0.1'}`,
    ...o.hostKeys.map((k) => `HostKey ${k}`),
    `PidFile ${join(o.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${o.authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'LogLevel VERBOSE',
  ];
  if (o.env && Object.keys(o.env).length > 0) lines.push(`SetEnv ${Object.entries(o.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  writeFileSync(config, `${lines.join('\n')}\n`);
  // Sessions run root's login shell, which reads ~/.bashrc: this machine's runs `pyenv init`, and a
  // session killed during its rehash leaves a lock file that makes every later root login wait
  // 60 s. So sshd runs in its own mount namespace with an empty home on /root.
  const home = join(o.dir, 'home');
  mkdirSync(home, { recursive: true });
  const argv = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /root && exec "$1" -D -e -f "$2"', home, SSHD, config];
  if (o.netns) argv.unshift('ip', 'netns', 'exec', o.netns);
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const onData = (d: string) => {
      log += d;
      if (log.includes('Server listening on')) resolve();
    };
    child.stderr!.on('data', onData);
    child.once('error', reject);
    void exited.then(() => reject(new Error(`sshd exited: ${log}`)));
  });
  let stopped = false;
  return {
    port,
    log: () => log,
    async stop() {
      if (stopped) return exited;
      stopped = true;
      // Per-connection sshd processes and the commands they run call setsid(): they are not in
      // the listener's process group, so walk the process tree.
      for (const pid of descendantsOf(child.pid!)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Direct children of a process, from /proc. */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  for (let queue = [pid]; queue.length > 0; ) {
    const kids = childrenOf(queue.shift()!);
    out.push(...kids);
    queue.push(...kids);
  }
  return out;
}

/** Does this process exist (and is not a zombie)? */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Runs `command` over a connection of its own (a fresh SshPool, closed after): every call checks
 * the host key again, as a new connection does. Returns stdout.
 */
export async function runOnNewConnection(t: SshTarget, command: string): Promise<string> {
  const pool = new SshPool({ connectTimeoutMs: 5000 });
  try {
    return (await pool.run(t, command, { timeoutMs: 10_000 })).stdout;
  } finally {
    pool.closeAll();
  }
}
