/**
 * A simulated world for the controller: a SimCluster on a SimClock, a MemoryStore, a boot table
 * stand-in, PXE evidence and monitoring, wired to the real HaController. Used by the simulator
 * (simulate.ts) and by the controller's tests.
 */
import { SimCluster, type SimHostSpec, type SimTimings } from '../hypervisor/sim.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { HaController, type BootFlip, type ControllerDeps, type HostSpec, type VmSpec } from './controller.js';
import { PxeEvidence } from './evidence.js';
import type { FsmRules } from './fsm-types.js';
import type { Rng } from './random.js';
import { SimClock } from './sim-clock.js';
import { SimMonitor } from './sim-monitor.js';

export interface WorldVm {
  name: string;
  host: string | null;
  reinstall?: boolean;
  priority?: number;
  cpus?: number;
  memoryMb?: number;
  hosts?: string[];
  hostsRequired?: boolean;
  after?: string[];
  coldMove?: boolean;
}

export interface WorldOptions {
  rng: Rng;
  rules: FsmRules;
  scanInterval: number;
  /** Delay before monitoring sees a VM down (paper: Ganglia's 70 s; 3rc probes: 0). */
  detectDelay: number;
  timings: SimTimings;
  hosts: (SimHostSpec & { loadThreshold?: number; capacityVms?: number; rack?: string })[];
  vms: WorldVm[];
  /** Out-of-band fencing configured in 3rc (the sim hosts' `bmc` says whether it works). */
  fence: boolean;
  store?: Store;
  /** The VMs' firmware tries the network first on every boot (as the lab's do). */
  networkFirst?: boolean;
  /** Placement requests planned together (ControllerDeps.placeWindow). Default: 200 ms, as configured 3rc runs. */
  placeWindow?: number;
  /** Placement groups, restart order and admission, as the config gives them. */
  groups?: ControllerDeps['groups'];
  restartOrder?: ControllerDeps['restartOrder'];
  admission?: ControllerDeps['admission'];
  /** The hypervisors can live-migrate (default: true); false: a drain moves VMs cold. */
  liveMigration?: boolean;
}

export interface World {
  clock: SimClock;
  store: Store;
  sim: SimCluster;
  controller: HaController;
  /** MACs whose boot entry says install. */
  modes: Map<string, 'local' | 'install'>;
  /** setInstall calls, in order. */
  installs: string[];
  macOf(vm: string): string;
  /** Advances simulated time, letting the controller finish its work after each timer. */
  run(ms: number, stop?: () => boolean): Promise<void>;
  /** A new controller on the same store, cluster and clock (after abandon() of the old one). */
  restartController(): Promise<HaController>;
}

export function macFor(i: number): string {
  return `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
}

export async function buildWorld(o: WorldOptions): Promise<World> {
  const clock = new SimClock(0);
  const store = o.store ?? new MemoryStore();
  const modes = new Map<string, 'local' | 'install'>();
  const installs: string[] = [];
  const evidence = new PxeEvidence();
  const macs = new Map(o.vms.map((v, i) => [v.name, macFor(i + 1)]));
  const vmByMac = new Map([...macs].map(([vm, mac]) => [mac, vm]));
  const sim = new SimCluster({
    clock, rng: o.rng, timings: o.timings, hosts: o.hosts, networkFirst: o.networkFirst ?? false, liveMigration: o.liveMigration ?? true,
    vms: o.vms.map((v) => ({ name: v.name, mac: macs.get(v.name)!, host: v.host })),
    hooks: {
      bootMode: (mac) => modes.get(mac) ?? 'local',
      onPxe: (vm, _mac, mode) => evidence.record(vm, clock.now(), mode),
      // The install-done callback flips the entry back to local.
      onInstalled: (_vm, mac) => void modes.set(mac, 'local'),
    },
  });
  const bootTable: BootFlip = {
    async setInstall(mac) {
      modes.set(mac, 'install');
      installs.push(mac);
      evidence.clear(vmByMac.get(mac) ?? '');
    },
  };
  const monitor = new SimMonitor(sim, clock, { detectDelay: o.detectDelay, evidence: o.rules.evidence ? evidence : null });
  const vms: VmSpec[] = o.vms.map((v) => ({
    name: v.name, mac: macs.get(v.name)!, host: v.host, reinstall: v.reinstall ?? true, priority: v.priority ?? 0, cpus: v.cpus ?? 1, memoryMb: v.memoryMb ?? 1024,
    hosts: v.hosts, hostsRequired: v.hostsRequired, after: v.after, ...(v.coldMove !== undefined ? { coldMove: v.coldMove } : {}),
  }));
  const hosts: HostSpec[] = o.hosts.map((h) => ({ name: h.name, loadThreshold: h.loadThreshold ?? 4, capacity: { cpus: h.cpus, memoryMb: h.memoryMb, vms: h.capacityVms }, rack: h.rack }));
  const make = () => HaController.load({
    clock, store, driver: sim, guest: sim, fencer: o.fence ? sim : null, bootTable, monitor, vms, hosts, rules: o.rules, scanInterval: o.scanInterval, placeWindow: o.placeWindow ?? 200,
    ...(o.groups ? { groups: o.groups } : {}), ...(o.restartOrder ? { restartOrder: o.restartOrder } : {}), ...(o.admission ? { admission: o.admission } : {}),
  });
  const world: World = {
    clock, store, sim, modes, installs,
    controller: await make(),
    macOf: (vm) => macs.get(vm)!,
    run: (ms, stop) => clock.runUntil(clock.now() + ms, () => world.controller.idle(), stop),
    async restartController() {
      world.controller = await make();
      await world.controller.start();
      return world.controller;
    },
  };
  await world.controller.start();
  return world;
}
