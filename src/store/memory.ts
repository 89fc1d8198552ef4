/**
 * An in-memory Store for unit tests of the parts above it. It passes the same contract suite as
 * the SQLite store, so a test written against it means the same thing against the real one.
 */
import { ErrorCodes, StoreError } from '../lib/errors.js';
import {
  DEFAULT_EVENT_LIMIT,
  matchesQuery,
  normalizeEvent,
  PrunePlan,
  type PruneRequest,
  type EventQuery,
  type HostOverride,
  type LearnedHostKeys,
  type Store,
  type StoreEvent,
  type StoreOp,
  type VmState,
  type WriteResult,
} from './store.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Lease } from '../domain/lease.js';

export class MemoryStore implements Store {
  readonly kind = 'memory';
  private leases = new Map<string, Lease>();
  private boot = new Map<string, BootEntry>();
  private vms = new Map<string, VmState>();
  private hosts = new Map<string, HostOverride>();
  private hostKeys = new Map<string, LearnedHostKeys>();
  private events: StoreEvent[] = [];
  private nextId = 1;
  private closed = false;

  async write(ops: StoreOp[]): Promise<WriteResult> {
    if (this.closed) throw new StoreError(ErrorCodes.STORE_CLOSED, 'store is closed');
    const eventIds: number[] = [];
    for (const o of structuredClone(ops)) {
      switch (o.op) {
        case 'putLease': this.leases.set(o.lease.ip, o.lease); break;
        case 'deleteLease': this.leases.delete(o.ip); break;
        case 'putBootEntry': this.boot.set(o.entry.mac, { ...o.entry, result: o.entry.result ?? null }); break;
        case 'putHostOverride': this.hosts.delete(o.override.name); this.hosts.set(o.override.name, o.override); break;
        case 'deleteBootEntry': this.boot.delete(o.mac); break;
        case 'putHostKeys': this.hostKeys.set(o.record.host, o.record); break;
        case 'deleteHostKeys': this.hostKeys.delete(o.host); break;
        case 'putVmState': this.vms.set(o.state.vm, o.state); break;
        case 'deleteVmState': this.vms.delete(o.vm); break;
        case 'appendEvent': {
          const id = this.nextId++;
          this.events.push(normalizeEvent(o.event, id));
          eventIds.push(id);
          break;
        }
      }
    }
    return { eventIds };
  }

  async listLeases(): Promise<Lease[]> {
    return structuredClone([...this.leases.values()]);
  }

  async listBootEntries(): Promise<BootEntry[]> {
    return structuredClone([...this.boot.values()]);
  }

  async listVmStates(): Promise<VmState[]> {
    return structuredClone([...this.vms.values()]);
  }

  async listHostOverrides(): Promise<HostOverride[]> {
    return structuredClone([...this.hosts.values()]);
  }

  async listHostKeys(): Promise<LearnedHostKeys[]> {
    return structuredClone([...this.hostKeys.values()].sort((a, b) => a.host.localeCompare(b.host)));
  }

  async getHostKeys(host: string): Promise<LearnedHostKeys | null> {
    return structuredClone(this.hostKeys.get(host) ?? null);
  }

  async queryEvents(q: EventQuery = {}): Promise<StoreEvent[]> {
    const hits = this.events.filter((e) => matchesQuery(e, q));
    return structuredClone(hits.slice(-(q.limit ?? DEFAULT_EVENT_LIMIT)));
  }

  async pruneEvents(p: PruneRequest): Promise<number> {
    const keep = new Set(p.keepKinds);
    const plan = new PrunePlan(p, this.events.filter((e) => !keep.has(e.kind)).length);
    for (const e of this.events) if (!plan.offer(e)) break;
    const doomed = new Set(plan.runs.flat());
    this.events = this.events.filter((e) => !doomed.has(e));
    return plan.count;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
