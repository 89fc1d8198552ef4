/**
 * What the HA controller needs from a hypervisor, whatever drives it (libvirt over SSH, command
 * templates over SSH, the simulator). Host names are the inventory's hypervisor names; VM names
 * are the inventory's host names. Every implementation passes the suite in contract.ts.
 */
import { DriverErrorCodes, RemoteError } from '../lib/errors.js';

/** Power state of one VM on one hypervisor. `off` also covers "defined but not running". */
export type VmRunState = 'running' | 'off';

export interface VmListing {
  name: string;
  state: VmRunState;
}

export { DriverErrorCodes };

export type DriverErrorCode = (typeof DriverErrorCodes)[keyof typeof DriverErrorCodes];

/** A hypervisor operation that failed; `host` is the hypervisor. */
export class DriverError extends RemoteError<DriverErrorCode> {}

/** True when err is a DriverError with this code. */
export function isDriverError(err: unknown, code?: DriverErrorCode): err is DriverError {
  return err instanceof DriverError && (code === undefined || err.code === code);
}

export interface HypervisorDriver {
  /** libvirt, command, sim. */
  readonly kind: string;
  /** Answers within the driver's timeout; never throws. */
  reachable(host: string): Promise<boolean>;
  /** Every VM the hypervisor knows, running or not. */
  listVms(host: string): Promise<VmListing[]>;
  /** One VM's state there; NO_SUCH_VM when the hypervisor does not know it. */
  vmState(host: string, vm: string): Promise<VmRunState>;
  /** Powers the VM on there; ALREADY_RUNNING when it runs there already. */
  start(host: string, vm: string): Promise<void>;
  /** Hard power off (virsh destroy). Idempotent: a VM already off is fine. */
  destroy(host: string, vm: string): Promise<void>;
  /** Hard reset of a running VM; NOT_RUNNING when it is off there. */
  reset(host: string, vm: string): Promise<void>;
  /**
   * Live migration of a running VM from `host` to `dest` (its disk on storage both see): it keeps
   * running, never with two copies running at once. Resolves once it runs on `dest` and no longer
   * on `host`. NOT_RUNNING when it is off on `host`, ALREADY_RUNNING when it runs on `dest`,
   * MIGRATION_UNSUPPORTED when this driver (or this pair of hosts) cannot migrate: the VM was not
   * touched and still runs on `host`.
   */
  migrate(host: string, vm: string, dest: string): Promise<void>;
}

/** `reboot` inside a guest over SSH. */
export interface GuestAccess {
  /** 'started' once the guest accepted it (a dropped connection counts), 'unreachable' otherwise. */
  reboot(vm: string): Promise<'started' | 'unreachable'>;
}

/** An out-of-band fence for a whole hypervisor (e.g. ipmitool chassis power off + status). */
export interface Fencer {
  /** Powers the host off and reads back its power state; 'unknown' when it cannot tell. */
  fence(host: string): Promise<'off' | 'on' | 'unknown'>;
  /** How the host is fenced (e.g. "its BMC (ipmi)"), for the recorded outcome; absent: not said. */
  via?(host: string): string | undefined;
}
