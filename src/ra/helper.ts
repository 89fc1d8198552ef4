/**
 * The I/O edge of router advertisements: the ICMPv6 helper process (ra/helper-py.ts), started,
 * fed and restarted. Its failures never reach the rest of 3rc: a helper that cannot start (no
 * python3, no CAP_NET_RAW), dies, or writes anything but the protocol is logged, killed if still
 * there, and started again after a back-off (1 s doubling to 60 s; back to 1 s once a helper
 * has lived a minute). While it is down, sends are refused (send() returns false) and the
 * advertiser catches up when it is ready again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Clock, Timer } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import { FrameReader, joinFrame, leaveFrame, sendFrame, type HelperFrame } from './frames.js';
import { HELPER_PY } from './helper-py.js';

const MIN_BACKOFF = 1_000;
const MAX_BACKOFF = 60_000;
/** A helper that lived this long resets the back-off. */
const HEALTHY_AFTER = 60_000;
/** Bytes queued to the helper's stdin beyond which sends are refused (a stuck helper). */
const MAX_QUEUED = 1 << 20;

/** The helper's command: Debian's python3 when present (not a user's pyenv shim), else PATH's. */
export function defaultHelperCommand(): string[] {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  return [python, '-I', '-c', HELPER_PY];
}

export interface HelperEvents {
  /** The helper opened its socket: (re)join the links and advertise. */
  ready(): void;
  /** A router solicitation (the socket's filter passes nothing else). */
  packet(p: Extract<HelperFrame, { kind: 'packet' }>): void;
}

export class Icmp6Helper {
  private child: ChildProcess | null = null;
  private ready = false;
  private stopping = false;
  private backoff = MIN_BACKOFF;
  private restartTimer: Timer | null = null;
  private readonly joined = new Set<number>();
  private exited: Promise<void> = Promise.resolve();
  /** Helpers started, for logs and tests. */
  starts = 0;

  constructor(private readonly deps: { clock: Clock; log: Logger; events: HelperEvents; command?: string[] }) {}

  get isReady(): boolean {
    return this.ready;
  }

  start(): void {
    this.stopping = false;
    this.spawnHelper();
  }

  /** Listen for solicitations on ifindex (kept across helper restarts). */
  join(ifindex: number): void {
    this.joined.add(ifindex);
    if (this.ready) this.write(joinFrame(ifindex));
  }

  leave(ifindex: number): void {
    this.joined.delete(ifindex);
    if (this.ready) this.write(leaveFrame(ifindex));
  }

  /** Hands an ICMPv6 message to the helper; false when it is not running or not keeping up. */
  send(ifindex: number, destination: Buffer, message: Buffer): boolean {
    if (!this.ready) return false;
    return this.write(sendFrame(ifindex, destination, message));
  }

  /** Stops the helper (stdin closed, then SIGKILL after 2 s) and any pending restart. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.restartTimer?.cancel();
    this.restartTimer = null;
    const child = this.child;
    if (child) {
      child.stdin?.end();
      const kill = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await this.exited;
      clearTimeout(kill);
    }
  }

  private write(bytes: Buffer): boolean {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed || stdin.writableLength > MAX_QUEUED) return false;
    stdin.write(bytes);
    return true;
  }

  private spawnHelper(): void {
    const { log, clock } = this.deps;
    const [cmd, ...args] = this.deps.command ?? defaultHelperCommand();
    const startedAt = clock.now();
    this.starts++;
    let child: ChildProcess;
    try {
      child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      log.error({ err }, 'ra: cannot start the ICMPv6 helper');
      this.scheduleRestart(startedAt);
      return;
    }
    this.child = child;
    const reader = new FrameReader();
    let done = false;
    let resolveExit!: () => void;
    this.exited = new Promise<void>((r) => (resolveExit = r));
    const died = (why: Record<string, unknown>) => {
      if (done) return;
      done = true;
      this.ready = false;
      if (this.child === child) this.child = null;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolveExit();
      if (this.stopping) return;
      log.error(why, 'ra: the ICMPv6 helper stopped; router advertisements pause until it is started again');
      this.scheduleRestart(startedAt);
    };
    child.on('error', (err) => died({ err }));
    child.on('exit', (code, signal) => died({ code, signal }));
    child.stdin!.on('error', (err) => log.debug({ err }, 'ra: helper stdin'));
    let stderrSeen = 0;
    child.stderr!.on('data', (chunk: Buffer) => {
      // Python tracebacks: a few lines are useful, a flood is not.
      if (stderrSeen++ < 20) log.warn({ stderr: chunk.toString('utf8').slice(0, 2000) }, 'ra: ICMPv6 helper wrote to stderr');
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      let frames: HelperFrame[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        died({ err, reason: 'the helper broke the framed protocol' });
        return;
      }
      for (const f of frames) {
        if (f.kind === 'ready') {
          this.ready = true;
          log.info({ links: this.joined.size }, 'ra: ICMPv6 helper ready');
          for (const ifindex of this.joined) this.write(joinFrame(ifindex));
          this.deps.events.ready();
        } else if (f.kind === 'error') {
          log.warn({ reason: f.text }, 'ra: ICMPv6 helper reported an error');
        } else {
          this.deps.events.packet(f);
        }
      }
    });
  }

  private scheduleRestart(startedAt: number): void {
    const { clock, log } = this.deps;
    if (clock.now() - startedAt >= HEALTHY_AFTER) this.backoff = MIN_BACKOFF;
    const wait = this.backoff;
    this.backoff = Math.min(MAX_BACKOFF, this.backoff * 2);
    log.info({ inMs: wait }, 'ra: ICMPv6 helper restarts');
    this.restartTimer = clock.schedule(wait, () => {
      this.restartTimer = null;
      if (!this.stopping) this.spawnHelper();
    });
  }
}
