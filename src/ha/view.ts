/**
 * What the API and CLI see of the HA controller: whether it runs (and if not, why), each VM's
 * state, and the operator actions. A process whose controller cannot run (disabled, no VMs, no
 * driver for its hypervisors) still answers, with the reason.
 */
import { ErrorCodes, ThreeRcError } from '../lib/errors.js';
import { summary, type AdmissionSummary, type ClusterView } from './admission.js';
import type { DrainReport, HaController, VmSpec, VmStatus } from './controller.js';
import type { HypervisorOps } from './hv-ops.js';

export type OperatorOp = 'disable' | 'enable' | 'clear';

export interface HaView {
  active: boolean;
  /** Why the controller does not run; null when it does. */
  reason: string | null;
  status(): VmStatus[];
  operator(vm: string, op: OperatorOp): Promise<void>;
  /** Puts a VM under protection now (`3rc p2v`); false when it was already. Throws when inactive. */
  adopt(spec: VmSpec): boolean;
  /** Admission control after the last pass (null before the first, or when the controller does not run here). */
  admission?(): AdmissionSummary | null;
  /** The cluster as placement sees it now (P2V targets are planned in it); absent when the controller does not run here. */
  cluster?(): ClusterView;
  /** Hypervisors with their maintenance flag and whether a drain runs (empty when inactive). */
  hypervisors(): { name: string; maintenance: boolean; draining: boolean }[];
  /** `3rc hv drain NAME`: resolves when the drain is over (or stopped, with why). */
  drain(host: string): Promise<DrainReport>;
  /** `3rc hv undrain NAME`: maintenance off. */
  undrain(host: string): Promise<void>;
  /** `3rc hv reinstall NAME` and `3rc hv roll` (absent where the controller does not run). */
  ops?: Pick<HypervisorOps, 'reinstall' | 'startRoll' | 'cancelRoll' | 'resumeRoll' | 'status'>;
}

class HaInactiveError extends ThreeRcError {
  constructor(reason: string) {
    super(ErrorCodes.HA_INACTIVE, `the HA controller is not running: ${reason}`);
  }
}

export function activeHa(controller: HaController, ops?: HypervisorOps): HaView {
  return {
    ...(ops ? { ops } : {}),
    active: true, reason: null, status: () => controller.status(), operator: (vm, op) => controller.operator(vm, op), adopt: (spec) => controller.adopt(spec),
    admission: () => {
      const a = controller.admission();
      return a && summary(a);
    },
    cluster: () => controller.clusterView(),
    hypervisors: () => controller.hosts(), drain: (host) => controller.drain(host), undrain: (host) => controller.setMaintenance(host, false, 'undrain'),
  };
}

export function inactiveHa(reason: string): HaView {
  return {
    active: false,
    reason,
    status: () => [],
    operator: async () => {
      throw new HaInactiveError(reason);
    },
    adopt: () => {
      throw new HaInactiveError(reason);
    },
    hypervisors: () => [],
    drain: async () => {
      throw new HaInactiveError(reason);
    },
    undrain: async () => {
      throw new HaInactiveError(reason);
    },
  };
}
