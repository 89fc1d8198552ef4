/**
 * systemd's service notification (sd_notify) for Type=notify with WatchdogSec: READY=1 once 3rc
 * serves, then WATCHDOG=1 every WatchdogSec/2, so that a stalled event loop (no timer runs, so no
 * ping) gets 3rc restarted. Node has no unix datagram sockets, so each message is sent by
 * spawning `systemd-notify --pid=PID MESSAGE` (the unit needs NotifyAccess=all: the sender is a
 * child of 3rc). systemd-notify (systemd 252) follows each message with a BARRIER=1 and waits
 * until systemd has read them, so it is still alive when systemd looks up which unit sent it.
 *
 * Nothing happens unless systemd asked for it: READY only when $NOTIFY_SOCKET is set, the
 * watchdog only when $WATCHDOG_USEC is set too (and $WATCHDOG_PID, when set, is our pid). A failed
 * notification is logged, never fatal; a ping is skipped while the previous one still runs. The
 * ping timer does not keep the process alive (unref).
 */
import { execFile } from 'node:child_process';
import type { Timer } from './clock.js';
import type { Logger } from './log.js';

/** Runs `systemd-notify ARGS` with NOTIFY_SOCKET=socket; resolves when it exited 0, rejects otherwise. */
export type NotifyRunner = (args: string[], socket: string) => Promise<void>;

/** Calls fn every ms milliseconds until cancelled; must not keep the process alive. */
export type Ticker = (ms: number, fn: () => void) => Timer;

export const runSystemdNotify: NotifyRunner = (args, socket) =>
  new Promise((resolve, reject) => {
    execFile('systemd-notify', args, { timeout: 10_000, env: { ...process.env, NOTIFY_SOCKET: socket } }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`systemd-notify ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });

export const unrefTicker: Ticker = (ms, fn) => {
  const t = setInterval(fn, ms);
  t.unref();
  return { cancel: () => clearInterval(t) };
};

export interface SdNotifyOptions {
  /**
   * Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read (default process.env). They are
   * then deleted from it, as sd_notify's unset_environment does: 3rc's other children (power
   * commands, SSH) must not talk to systemd in 3rc's name.
   */
  env?: NodeJS.ProcessEnv;
  pid?: number;
  run?: NotifyRunner;
  ticker?: Ticker;
}

/** The watchdog's ping interval in ms (half of WATCHDOG_USEC), or undefined when there is none for us. */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  if (!env.NOTIFY_SOCKET) return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

export class SdNotify {
  private readonly env: NodeJS.ProcessEnv;
  private readonly socket: string | undefined;
  private readonly pid: number;
  private readonly run: NotifyRunner;
  private readonly ticker: Ticker;
  private timer: Timer | undefined;
  private pinging = false;

  constructor(private readonly log: Logger, opts: SdNotifyOptions = {}) {
    const env = opts.env ?? process.env;
    this.env = { NOTIFY_SOCKET: env.NOTIFY_SOCKET, WATCHDOG_USEC: env.WATCHDOG_USEC, WATCHDOG_PID: env.WATCHDOG_PID };
    this.socket = env.NOTIFY_SOCKET || undefined;
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
    this.pid = opts.pid ?? process.pid;
    this.run = opts.run ?? runSystemdNotify;
    this.ticker = opts.ticker ?? unrefTicker;
  }

  /** Whether systemd listens ($NOTIFY_SOCKET). */
  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** Sends READY=1 and starts the watchdog pings (each only when systemd asked for it). */
  ready(): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const interval = watchdogInterval(this.env, this.pid);
    if (interval !== undefined && !this.timer) {
      this.timer = this.ticker(interval, () => this.ping());
      this.log.info({ intervalMs: interval }, 'systemd watchdog: pinging');
    }
    return this.send(['READY=1']);
  }

  /** Sends STOPPING=1 and stops the pings. */
  stopping(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    if (!this.enabled) return Promise.resolve();
    return this.send(['STOPPING=1']);
  }

  private ping(): void {
    if (this.pinging) {
      this.log.warn('systemd watchdog: the previous ping has not finished; this one is skipped');
      return;
    }
    this.pinging = true;
    this.send(['WATCHDOG=1']).finally(() => {
      this.pinging = false;
    }).catch((err: unknown) => this.log.error({ err }, 'systemd watchdog: ping bookkeeping failed'));
  }

  /** Never rejects: a failure is logged. */
  private send(messages: string[]): Promise<void> {
    if (this.socket === undefined) return Promise.resolve();
    return this.run([`--pid=${this.pid}`, ...messages], this.socket).catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message, messages }, 'systemd notification failed');
    });
  }
}
