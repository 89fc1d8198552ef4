/**
 * The dashboard's live feed: what the SSE stream pushes, gathered without the rest of 3rc knowing
 * about the dashboard. Two taps, put in place by main.ts:
 * - tapStore: every event durably appended to the store (boot trace, boot-table changes, HA
 *   decisions) is published once its write resolved, with the id the store gave it;
 * - tapMonitor: each monitoring pass of the HA controller updates the hypervisors' reachability
 *   and 5-minute load; a change of reachability is recorded as a `hypervisor.up|down` event, so
 *   that the timeline can draw hypervisors the way the paper's figure does.
 * Publishing never throws into the writer: a failing listener is logged and ignored.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { Monitor } from '../ha/monitor.js';
import { newEvent, type KnownNewEvent } from '../events/kinds.js';
import type { Store, StoreEvent, StoreOp } from '../store/store.js';
import { normalizeEvent } from '../store/store.js';

/** A hypervisor as the last monitoring pass saw it. */
export interface HypervisorLive {
  name: string;
  up: boolean;
  loadFive: number | null;
  cpuNum: number | null;
  /** When the pass that saw it ended (ms since the epoch). */
  seenAt: number;
}

export interface LiveFeedEvents {
  /** An event the store has made durable. */
  event: [StoreEvent];
  /** The hypervisors after a monitoring pass that changed something a dashboard shows. */
  hypervisors: [HypervisorLive[]];
}

export class LiveFeed extends EventEmitter<LiveFeedEvents> {
  private readonly hv = new Map<string, HypervisorLive>();
  private store: Store | null = null;

  constructor(private readonly clock: Clock, private readonly log?: Logger) {
    super();
    // Every SSE connection is one listener; the hub holds one, not one per client.
    this.setMaxListeners(100);
  }

  /** The hypervisors seen so far (none before the controller's first pass). */
  hypervisors(): HypervisorLive[] {
    return [...this.hv.values()];
  }

  hypervisor(name: string): HypervisorLive | undefined {
    return this.hv.get(name);
  }

  /**
   * The store as everyone else should use it: the same store, whose write() also publishes the
   * events it appended. A Proxy, so that methods added to Store later pass through unchanged.
   */
  tapStore<S extends Store>(store: S): S {
    const write = async (ops: StoreOp[]) => {
      const result = await store.write(ops);
      let k = 0;
      for (const op of ops) {
        if (op.op !== 'appendEvent') continue;
        const id = result.eventIds[k++];
        if (id !== undefined) this.publish(normalizeEvent(op.event, id));
      }
      return result;
    };
    const tapped = new Proxy(store, {
      get(target, prop) {
        if (prop === 'write') return write;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    this.store = tapped;
    return tapped;
  }

  /** The controller's monitor, whose passes also update the hypervisors shown. */
  tapMonitor<M extends Monitor>(monitor: M): Monitor {
    return {
      pass: async (target) => {
        const snap = await monitor.pass(target);
        try {
          this.observe([...snap.hosts].map(([name, h]) => ({ name, up: h.up, loadFive: h.loadFive, cpuNum: h.cpuNum })));
        } catch (err) {
          this.log?.error({ err }, 'dashboard: monitoring pass not shown');
        }
        return snap;
      },
      probe: (vm, host) => monitor.probe(vm, host),
      powered: (vm, at) => monitor.powered(vm, at),
    };
  }

  /** Takes a monitoring pass's view of the hypervisors. */
  observe(hosts: readonly Omit<HypervisorLive, 'seenAt'>[]): void {
    const now = this.clock.now();
    let changed = false;
    const records: KnownNewEvent[] = [];
    for (const h of hosts) {
      const before = this.hv.get(h.name);
      if (!before || before.up !== h.up) {
        records.push(newEvent(h.up ? 'hypervisor.up' : 'hypervisor.down', { at: now, host: h.name, reason: before ? 'monitor' : 'first-pass' }, { loadFive: h.loadFive }));
      }
      if (!before || before.up !== h.up || before.loadFive !== h.loadFive || before.cpuNum !== h.cpuNum) changed = true;
      this.hv.set(h.name, { ...h, seenAt: now });
    }
    if (records.length > 0 && this.store) {
      this.store.write(records.map((event) => ({ op: 'appendEvent' as const, event }))).catch((err: unknown) => this.log?.error({ err }, 'dashboard: hypervisor state not recorded'));
    }
    if (changed) this.safeEmit('hypervisors', this.hypervisors());
  }

  /** Publishes one durable event (the store tap calls this). */
  publish(e: StoreEvent): void {
    this.safeEmit('event', e);
  }

  private safeEmit<K extends keyof LiveFeedEvents>(name: K, ...args: LiveFeedEvents[K]): void {
    try {
      (this.emit as (n: K, ...a: LiveFeedEvents[K]) => boolean)(name, ...args);
    } catch (err) {
      this.log?.error({ err, what: name }, 'dashboard: live update failed');
    }
  }
}
