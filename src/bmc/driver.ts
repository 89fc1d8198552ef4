/**
 * Out-of-band control of a physical machine through its BMC (IPMI over LAN, Redfish). One driver
 * instance drives one BMC. Every power change is read back: `power()` answers the state the BMC
 * reports after the change, never the state that was asked for.
 */
import { BmcErrorCodes, RemoteError } from '../lib/errors.js';
import type { Clock } from '../lib/clock.js';

export type BmcErrorCode = (typeof BmcErrorCodes)[keyof typeof BmcErrorCodes];

/** A BMC failure; `host` is the inventory name of the machine the BMC belongs to. */
export class BmcError extends RemoteError<BmcErrorCode> {}

export function isBmcError(err: unknown, code?: BmcErrorCode): err is BmcError {
  return err instanceof BmcError && (code === undefined || err.code === code);
}

export type PowerState = 'on' | 'off';
export type PowerAction = 'on' | 'off' | 'cycle';
/** Network boot over PXE (TFTP) or UEFI HTTP boot. */
export type BootTarget = 'pxe' | 'uefi-http';

/** What the BMC knows about the machine's health. */
export interface BmcHealth {
  power: PowerState;
  /** Faults the BMC reports now (power overload, fan fault, Redfish Status.Health Warning...). Empty: none. */
  faults: string[];
  /** Entries in the event log (IPMI SEL, Redfish log service); null when the BMC has none. */
  events: number | null;
  /** The last few event log lines, newest last. */
  recent: string[];
}

export interface BmcDriver {
  /** ipmi or redfish (or fake). */
  readonly kind: string;
  /** The power state the BMC reports. */
  powerState(): Promise<PowerState>;
  /**
   * Sends the power action, then reads the state back until it is the expected one (off after
   * off, on after on) or the settle time is over; answers the last read-back. A cycle is an off
   * read back off, then an on (see cycle()): a BMC's own cycle command reads back "on" before
   * and after, which proves nothing.
   */
  power(action: PowerAction): Promise<PowerState>;
  /** Makes the next boot (only the next) a network boot; checked by reading the setting back. */
  bootOnce(target: BootTarget): Promise<void>;
  health(): Promise<BmcHealth>;
}

/** The config's `bmc:` of a hypervisor (config/schema.ts), password read from its file. */
export interface BmcTarget {
  /** Inventory name of the machine. */
  host: string;
  driver: 'ipmi' | 'redfish';
  /** host, host:port, or for Redfish also an https:// URL. */
  address: string;
  user: string;
  passwordFile: string;
  caFile?: string;
  /** IPMI: ipmitool -C. */
  cipherSuite?: number;
}

export interface ReadBackOptions {
  clock: Clock;
  /** How long the state may take to become the expected one. Default 30 s. */
  settleMs?: number;
  /** Between two reads. Default 1 s. */
  intervalMs?: number;
}

export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(ms, resolve));
}

/**
 * Reads the power state until it is `want` or `settleMs` has passed; answers the last read. A
 * read that fails ends the wait with that error (the caller decides what an unknown state means).
 */
export async function readBack(read: () => Promise<PowerState>, want: PowerState, o: ReadBackOptions): Promise<PowerState> {
  const deadline = o.clock.now() + (o.settleMs ?? 30_000);
  for (;;) {
    const state = await read();
    if (state === want || o.clock.now() >= deadline) return state;
    await sleep(o.clock, o.intervalMs ?? 1000);
  }
}

/** The state a power action should end in. */
export function expectedAfter(action: PowerAction): PowerState {
  return action === 'off' ? 'off' : 'on';
}

/** A power cycle that can be checked: off (read back off), then on; a machine that stays on fails it. */
export async function cycle(host: string, power: (action: 'on' | 'off') => Promise<PowerState>): Promise<PowerState> {
  const off = await power('off');
  if (off !== 'off') throw new BmcError(BmcErrorCodes.FAILED, host, 'power cycle: the machine still reads back on after the power-off');
  return power('on');
}
