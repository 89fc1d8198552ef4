/**
 * The Store on etcd, for redundant 3rc (several instances, one leader; see src/cluster).
 *
 * Key layout, under a configurable prefix P (default `/3rc/`), values JSON:
 *   P leases/<ip>          Lease            P boot/<mac>     BootEntry
 *   P vms/<vm>             VmState          P hosts/<name>   HostOverride (listed by last write)
 *   P hostkeys/<name>      LearnedHostKeys
 *   P events/<id, 16 digits, zero-padded>   StoreEvent
 *   P evvm/<vm>/<id>       the same event again, for events naming a VM: the HA controller's
 *                          look-ups by VM (resuming a recovery) never scan the DHCP trace
 *   P evrec/<kind>/<id>    empty, for each event of a record kind (events/kinds.ts RECORD_KINDS):
 *                          the retention counts them (a count of keys) to prune the boot trace
 *                          by count without reading the log. Rows written before it had no copy
 *                          there, nor has a kept kind outside RECORD_KINDS: they are counted as
 *                          trace (a little more trace pruned; never a kept kind)
 *   P meta/event-seq       {"n": last event id, "w": id of the write that set it}
 *   P leader               the election key (src/cluster/election.ts)
 *
 * Durability: write() resolves only once etcd has committed the transaction (a Raft quorum has
 * it). Writes queued while a transaction is in flight are committed together in the next one
 * (in order, folded per key, so that a put then a delete of one key is what applying them one by
 * one would give); etcd refuses a transaction with more than 128 operations, so a batch stops
 * below that, and one write larger than that (a big inventory's first boot entries) goes in
 * several transactions, in order.
 *
 * Event ids: the counter key is read once, then every transaction that appends events compares
 * the counter's mod revision with the one last seen and sets it in the same transaction; on a
 * conflict (another writer) it is read again and the transaction retried. A transaction retried
 * by the client after a lost answer is recognised by the write id stored in the counter, so an
 * event is never appended twice.
 *
 * Fencing: with `fencing`, every transaction also compares the election key's create revision
 * with the one this instance won it at; a deposed leader's late write fails that compare and is
 * refused (never applied), and without a current fence a write is refused before it is sent.
 */
import { randomBytes } from 'node:crypto';
import type { Etcd3, ICompare, IKeyValue, IOptions, IRequestOp } from 'etcd3';
import { lazyRequire } from '../lib/lazy.js';
import { ErrorCodes, StoreError, ThreeRcError } from '../lib/errors.js';
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
import { RECORD_KINDS } from '../events/kinds.js';
import type { Lease } from '../domain/lease.js';

export interface EtcdTls {
  /** PEM contents (not paths). */
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface EtcdStoreOptions {
  /** `host:port` or `http(s)://host:port` of each member. */
  endpoints: string[];
  /** Key prefix, ending in `/`. Default: `/3rc/`. */
  prefix?: string;
  tls?: EtcdTls;
  /** Deadline of each request to etcd, in ms. Default: 5000. */
  callTimeoutMs?: number;
  /** How long a write keeps retrying while etcd is unavailable (member down, election), ms. Default: 15000. */
  retryForMs?: number;
  /** An existing client to share (the cluster's); the store then does not close it. */
  client?: Etcd3;
}

/** Who may write: the election's current fence, and the error to refuse with otherwise. */
export interface Fencing {
  /** The election key and the create revision this instance holds it at; null when not leader. */
  current(): { key: string; createRevision: string } | null;
  /** The error a refused write rejects with (names the leader). */
  refused(why: string): Error;
}

/** etcd's default --max-txn-ops is 128; two are kept for the counter and the fence. */
const MAX_TXN_OPS = 120;
/** etcd's default request size limit is 1.5 MiB. */
const MAX_TXN_BYTES = 1024 * 1024;

interface Pending {
  ops: StoreOp[];
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

/** etcd3, loaded by the first etcd store only (lib/lazy.ts). */
const etcd3 = lazyRequire<typeof import('etcd3')>('etcd3');

/** Builds an etcd3 client with a deadline on every unary call. */
function etcdClient(o: Pick<EtcdStoreOptions, 'endpoints' | 'tls' | 'callTimeoutMs'>): Etcd3 {
  const timeout = o.callTimeoutMs ?? 5000;
  const opts: IOptions = {
    hosts: o.endpoints.map((e) => (/^https?:\/\//.test(e) ? e : `${o.tls ? 'https' : 'http'}://${e}`)),
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: new Date(Date.now() + timeout) }),
    dialTimeout: timeout,
  };
  if (o.tls) opts.credentials = { rootCertificate: o.tls.ca, privateKey: o.tls.key, certChain: o.tls.cert };
  return new (etcd3().Etcd3)(opts);
}

const pad = (id: number) => String(id).padStart(16, '0');
const RECORDS: ReadonlySet<string> = new Set(RECORD_KINDS);
/** The keys an event has besides its own: its copy by VM, its key under evrec/. */
const copies = (e: { kind: string; vm?: string | null }) => (e.vm ? 1 : 0) + (RECORDS.has(e.kind) ? 1 : 0);
const text = (b: Buffer | Uint8Array) => Buffer.from(b).toString('utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class EtcdStore implements Store {
  readonly kind = 'etcd';
  readonly prefix: string;
  readonly client: Etcd3;
  private readonly ownsClient: boolean;
  private readonly o: EtcdStoreOptions;
  private fencing: Fencing | null = null;
  private queue: Pending[] = [];
  private pumping: Promise<void> | null = null;
  private closed = false;
  /** The counter as last seen: value and mod revision. */
  private seq: { n: number; mod: string } | null = null;
  /** Revision of the last transaction this store committed. */
  lastRevision = '0';

  constructor(o: EtcdStoreOptions) {
    this.o = o;
    this.prefix = o.prefix ?? '/3rc/';
    this.ownsClient = !o.client;
    this.client = o.client ?? etcdClient(o);
  }

  /** From now on every write carries this fence (src/cluster sets it). */
  setFencing(f: Fencing | null): void {
    this.fencing = f;
  }

  key = {
    lease: (ip: string) => `${this.prefix}leases/${ip}`,
    boot: (mac: string) => `${this.prefix}boot/${mac}`,
    vm: (vm: string) => `${this.prefix}vms/${vm}`,
    host: (name: string) => `${this.prefix}hosts/${name}`,
    hostKeys: (name: string) => `${this.prefix}hostkeys/${name}`,
    event: (id: number) => `${this.prefix}events/${pad(id)}`,
    eventByVm: (vm: string, id: number) => `${this.prefix}evvm/${vm}/${pad(id)}`,
    recordKinds: (kind: string) => `${this.prefix}evrec/${kind}/`,
    record: (kind: string, id: number) => `${this.prefix}evrec/${kind}/${pad(id)}`,
    seq: () => `${this.prefix}meta/event-seq`,
    leader: () => `${this.prefix}leader`,
    /** Present while a restore is under way or was cut short (restore.ts): no 3rc serves the store then. */
    restoring: () => `${this.prefix}meta/restoring`,
  };

  /** The unfinished restore this store holds (its marker's text: restore.ts), or null; a serving 3rc checks it first. */
  unfinishedRestore(): Promise<string | null> {
    return this.client.get(this.key.restoring()).string();
  }

  /** Key prefixes of each kind of record (for watches). */
  get dirs() {
    return { leases: `${this.prefix}leases/`, boot: `${this.prefix}boot/`, vms: `${this.prefix}vms/`, hosts: `${this.prefix}hosts/`, hostKeys: `${this.prefix}hostkeys/`, events: `${this.prefix}events/` };
  }

  write(ops: StoreOp[]): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new StoreError(ErrorCodes.STORE_CLOSED, 'store is closed'));
    return new Promise((resolve, reject) => {
      // Copied now: the caller may change its objects once write() returned.
      this.queue.push({ ops: structuredClone(ops), resolve, reject });
      this.pumping ??= this.pump().finally(() => (this.pumping = null));
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.take();
      try {
        await this.commit(batch);
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
  }

  /** The next writes that fit in one transaction (at least one). */
  private take(): Pending[] {
    const batch: Pending[] = [];
    const keys = new Set<string>();
    let bytes = 0;
    let events = 0;
    while (this.queue.length > 0) {
      const p = this.queue[0]!;
      const mine = p.ops.flatMap((o) => this.opKeys(o, events));
      const more = mine.filter((k) => !keys.has(k)).length;
      const size = JSON.stringify(p.ops).length;
      if (batch.length > 0 && (keys.size + more > MAX_TXN_OPS || bytes + size > MAX_TXN_BYTES)) break;
      this.queue.shift();
      batch.push(p);
      for (const k of mine) keys.add(k);
      bytes += size;
      events += p.ops.filter((o) => o.op === 'appendEvent').length;
    }
    return batch;
  }

  /** The keys an op writes, for sizing (events get distinct stand-ins). */
  private opKeys(o: StoreOp, eventsBefore: number): string[] {
    switch (o.op) {
      case 'putLease': return [this.key.lease(o.lease.ip)];
      case 'deleteLease': return [this.key.lease(o.ip)];
      case 'putBootEntry': return [this.key.boot(o.entry.mac)];
      case 'deleteBootEntry': return [this.key.boot(o.mac)];
      case 'putVmState': return [this.key.vm(o.state.vm)];
      case 'deleteVmState': return [this.key.vm(o.vm)];
      case 'putHostOverride': return [this.key.host(o.override.name)];
      case 'putHostKeys': return [this.key.hostKeys(o.record.host)];
      case 'deleteHostKeys': return [this.key.hostKeys(o.host)];
      case 'appendEvent': {
        const k = `event#${eventsBefore}#${Math.random()}`;
        return [k, ...Array.from({ length: copies(o.event) }, (_, i) => `${k}#${i}`)];
      }
    }
  }

  /** Commits a batch (in several transactions only when one write alone is too large). */
  private async commit(batch: Pending[]): Promise<void> {
    const all = batch.flatMap((p) => p.ops);
    const weight = (o: StoreOp) => (o.op === 'appendEvent' ? 1 + copies(o.event) : 1);
    if (batch.length > 1 || all.reduce((n, o) => n + weight(o), 0) <= MAX_TXN_OPS) {
      const ids = await this.commitOps(all);
      let i = 0;
      for (const p of batch) {
        const n = p.ops.filter((o) => o.op === 'appendEvent').length;
        p.resolve({ eventIds: ids.slice(i, i + n) });
        i += n;
      }
      return;
    }
    // One write larger than a transaction: in order, chunk by chunk.
    const ids: number[] = [];
    let chunk: StoreOp[] = [];
    let w = 0;
    for (const o of all) {
      if (w + weight(o) > MAX_TXN_OPS) {
        ids.push(...(await this.commitOps(chunk)));
        chunk = [];
        w = 0;
      }
      chunk.push(o);
      w += weight(o);
    }
    if (chunk.length > 0) ids.push(...(await this.commitOps(chunk)));
    batch[0]!.resolve({ eventIds: ids });
  }

  /** One transaction: the ops folded per key, the counter and the fence compared. Returns event ids. */
  private async commitOps(ops: StoreOp[]): Promise<number[]> {
    const events = ops.filter((o) => o.op === 'appendEvent').length;
    const deadline = Date.now() + (this.o.retryForMs ?? 15_000);
    for (let attempt = 0; ; attempt++) {
      const fence = this.fencing ? this.fencing.current() : null;
      if (this.fencing && !fence) throw this.fencing.refused('this instance is not the leader');
      const writeId = randomBytes(8).toString('hex');
      try {
        if (events > 0 && this.seq === null) await this.loadSeq();
        const base = this.seq?.n ?? 0;
        const ids: number[] = [];
        const folded = new Map<string, string | null>();
        for (const o of ops) {
          switch (o.op) {
            case 'putLease': folded.set(this.key.lease(o.lease.ip), JSON.stringify({ ...o.lease, clientId: o.lease.clientId ?? null, hostname: o.lease.hostname ?? null })); break;
            case 'deleteLease': folded.set(this.key.lease(o.ip), null); break;
            case 'putBootEntry': folded.set(this.key.boot(o.entry.mac), JSON.stringify({ ...o.entry, result: o.entry.result ?? null })); break;
            case 'deleteBootEntry': folded.set(this.key.boot(o.mac), null); break;
            case 'putVmState': folded.set(this.key.vm(o.state.vm), JSON.stringify({ ...o.state, data: o.state.data ?? null })); break;
            case 'deleteVmState': folded.set(this.key.vm(o.vm), null); break;
            case 'putHostOverride': folded.set(this.key.host(o.override.name), JSON.stringify(o.override)); break;
            case 'putHostKeys': folded.set(this.key.hostKeys(o.record.host), JSON.stringify(o.record)); break;
            case 'deleteHostKeys': folded.set(this.key.hostKeys(o.host), null); break;
            case 'appendEvent': {
              const id = base + ids.length + 1;
              ids.push(id);
              const json = JSON.stringify(normalizeEvent(o.event, id));
              folded.set(this.key.event(id), json);
              if (o.event.vm) folded.set(this.key.eventByVm(o.event.vm, id), json);
              if (RECORDS.has(o.event.kind)) folded.set(this.key.record(o.event.kind, id), '');
              break;
            }
          }
        }
        const compare: ICompare[] = [];
        if (events > 0) compare.push({ key: Buffer.from(this.key.seq()), target: 'Mod', result: 'Equal', mod_revision: this.seq?.mod ?? '0' });
        if (fence) compare.push({ key: Buffer.from(fence.key), target: 'Create', result: 'Equal', create_revision: fence.createRevision });
        const success: IRequestOp[] = [];
        for (const [key, value] of folded) {
          success.push(value === null ? { request_delete_range: { key: Buffer.from(key) } } : { request_put: { key: Buffer.from(key), value: Buffer.from(value) } });
        }
        if (events > 0) success.push({ request_put: { key: Buffer.from(this.key.seq()), value: Buffer.from(JSON.stringify({ n: base + events, w: writeId })) } });
        const failure: IRequestOp[] = [{ request_range: { key: Buffer.from(this.key.seq()) } }];
        if (fence) failure.push({ request_range: { key: Buffer.from(fence.key) } });
        const res = await this.client.kv.txn({ compare, success, failure });
        if (res.succeeded) {
          this.lastRevision = res.header.revision;
          if (events > 0) this.seq = { n: base + events, mod: res.header.revision };
          return ids;
        }
        const seqKv = res.responses[0]?.response_range?.kvs[0];
        const fenceKv = fence ? res.responses[1]?.response_range?.kvs[0] : undefined;
        if (fence && (!fenceKv || fenceKv.create_revision !== fence.createRevision)) {
          throw this.fencing!.refused('leadership lost: the election key changed, this write was not applied');
        }
        this.noteSeq(seqKv);
      } catch (err) {
        // Ours (closed store, refused by the fence): final. Anything else is etcd's, and retried.
        if (err instanceof ThreeRcError) throw err;
        // Unavailable, deadline, leader change in etcd: was it applied before the answer got lost?
        if (events > 0 && (await this.appliedAs(writeId))) return this.idsFromSeq(events);
        if (Date.now() > deadline) throw new StoreError(ErrorCodes.STORE_UNAVAILABLE, `etcd write failed: ${(err as Error).message}`, { cause: err });
        await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
        continue;
      }
      if (events > 0 && this.seqWriter === writeId) {
        // The client retried a transaction whose first attempt had committed.
        this.lastRevision = this.seq!.mod;
        return this.idsFromSeq(events);
      }
      if (Date.now() > deadline) throw new StoreError(ErrorCodes.STORE_UNAVAILABLE, 'etcd write kept conflicting on the event counter');
    }
  }

  private seqWriter: string | null = null;

  private noteSeq(kv: IKeyValue | undefined): void {
    if (!kv) {
      this.seq = { n: 0, mod: '0' };
      this.seqWriter = null;
      return;
    }
    const v = JSON.parse(text(kv.value)) as { n: number; w: string };
    this.seq = { n: v.n, mod: kv.mod_revision };
    this.seqWriter = v.w;
  }

  private idsFromSeq(events: number): number[] {
    const last = this.seq!.n;
    return Array.from({ length: events }, (_, i) => last - events + 1 + i);
  }

  private async loadSeq(): Promise<void> {
    const r = await this.client.get(this.key.seq()).exec();
    this.noteSeq(r.kvs[0]);
  }

  /** After an unclear failure: did the transaction with this write id commit? */
  private async appliedAs(writeId: string): Promise<boolean> {
    try {
      await this.loadSeq();
      if (this.seqWriter === writeId) {
        this.lastRevision = this.seq!.mod;
        return true;
      }
    } catch {
      this.seq = null;
    }
    return false;
  }

  private async list(dir: string): Promise<IKeyValue[]> {
    return (await this.client.getAll().prefix(dir).exec()).kvs;
  }

  async listLeases(): Promise<Lease[]> {
    return (await this.list(this.dirs.leases)).map((kv) => JSON.parse(text(kv.value)) as Lease);
  }

  async listBootEntries(): Promise<BootEntry[]> {
    return (await this.list(this.dirs.boot)).map((kv) => JSON.parse(text(kv.value)) as BootEntry);
  }

  async listVmStates(): Promise<VmState[]> {
    return (await this.list(this.dirs.vms)).map((kv) => JSON.parse(text(kv.value)) as VmState);
  }

  async listHostOverrides(): Promise<HostOverride[]> {
    const kvs = await this.list(this.dirs.hosts);
    // In the order they were last written, like the SQLite store's updated_at order.
    kvs.sort((a, b) => Number(BigInt(a.mod_revision) - BigInt(b.mod_revision)));
    return kvs.map((kv) => JSON.parse(text(kv.value)) as HostOverride);
  }

  async listHostKeys(): Promise<LearnedHostKeys[]> {
    return (await this.list(this.dirs.hostKeys)).map((kv) => JSON.parse(text(kv.value)) as LearnedHostKeys);
  }

  /** A linearizable read (etcd's default): keys another instance just learned are seen. */
  async getHostKeys(host: string): Promise<LearnedHostKeys | null> {
    const v = await this.client.get(this.key.hostKeys(host)).string();
    return v === null ? null : (JSON.parse(v) as LearnedHostKeys);
  }

  /** Newest first, page by page, at one revision, until `limit` matches. */
  async queryEvents(q: EventQuery = {}): Promise<StoreEvent[]> {
    const limit = q.limit ?? DEFAULT_EVENT_LIMIT;
    // By VM: its own index; else the whole log.
    const base = q.vm !== undefined ? `${this.prefix}evvm/${q.vm}/` : this.dirs.events;
    const start = `${base}${pad(q.afterId !== undefined ? q.afterId + 1 : 0)}`;
    // Exclusive: before the cursor, else '0' (it follows '/'): the end of the range.
    let end = q.beforeId !== undefined ? `${base}${pad(q.beforeId)}` : `${base.slice(0, -1)}0`;
    const hits: StoreEvent[] = [];
    let revision: string | undefined;
    const unfiltered = q.mac === undefined && q.host === undefined && q.kind === undefined;
    for (;;) {
      const page = unfiltered ? Math.min(limit - hits.length, 1000) : 1000;
      let b = this.client.getAll().inRange({ start, end }).sort('Key', 'Descend').limit(page);
      if (revision) b = b.revision(revision);
      const r = await b.exec();
      revision ??= r.header.revision;
      for (const kv of r.kvs) {
        const e = JSON.parse(text(kv.value)) as StoreEvent;
        if (matchesQuery(e, q)) hits.push(e);
        if (hits.length >= limit) break;
      }
      if (hits.length >= limit || !r.more || r.kvs.length === 0) break;
      end = text(r.kvs[r.kvs.length - 1]!.key);
    }
    return hits.reverse();
  }

  /**
   * One transaction: the events that the retention drops (a range delete per run of adjacent
   * ones) and their copies under evvm/ and evrec/, fenced like every write. The plan's counts
   * are counts of keys (the log, and the exempt kinds under evrec/), its events read from the
   * oldest on, all at one revision. Fewer than `batch` when the deletes would not fit in one
   * transaction; the caller calls again until 0.
   */
  async pruneEvents(p: PruneRequest): Promise<number> {
    if (this.closed) throw new StoreError(ErrorCodes.STORE_CLOSED, 'store is closed');
    const fence = this.fencing ? this.fencing.current() : null;
    if (this.fencing && !fence) throw this.fencing.refused('this instance is not the leader');
    const end = (dir: string) => Buffer.from(`${dir.slice(0, -1)}0`);
    const count = (dir: string): IRequestOp => ({ request_range: { key: Buffer.from(dir), range_end: end(dir), count_only: true } });
    const counted = await this.client.kv.txn({ compare: [], success: [count(this.dirs.events), ...p.keepKinds.map((k) => count(this.key.recordKinds(k)))], failure: [] });
    const [all, ...exempt] = counted.responses.map((r) => Number(r.response_range?.count ?? 0));
    const plan = new PrunePlan<StoreEvent>(p, all! - exempt.reduce((a, b) => a + b, 0));
    for (let start = this.key.event(0); plan.open; ) {
      const page = await this.client.getAll().inRange({ start, end: end(this.dirs.events).toString() }).sort('Key', 'Ascend').limit(p.batch).revision(counted.header.revision).exec();
      let last: StoreEvent | undefined;
      for (const kv of page.kvs) if (!plan.offer((last = JSON.parse(text(kv.value)) as StoreEvent))) break;
      if (!page.more || !last) break;
      start = this.key.event(last.id + 1);
    }
    // One op per run, one per copy; a run cut where the transaction is full.
    const success: IRequestOp[] = [];
    let n = 0;
    for (const run of plan.runs) {
      let ops = success.length + 1;
      let k = 0;
      while (k < run.length && ops + copies(run[k]!) <= MAX_TXN_OPS) ops += copies(run[k++]!);
      if (k === 0) break;
      const doomed = run.slice(0, k);
      success.push({ request_delete_range: { key: Buffer.from(this.key.event(doomed[0]!.id)), range_end: Buffer.from(this.key.event(doomed[k - 1]!.id + 1)) } });
      for (const e of doomed) {
        if (e.vm) success.push({ request_delete_range: { key: Buffer.from(this.key.eventByVm(e.vm, e.id)) } });
        if (RECORDS.has(e.kind)) success.push({ request_delete_range: { key: Buffer.from(this.key.record(e.kind, e.id)) } });
      }
      n += k;
      if (k < run.length) break;
    }
    if (n === 0) return 0;
    const compare: ICompare[] = fence ? [{ key: Buffer.from(fence.key), target: 'Create', result: 'Equal', create_revision: fence.createRevision }] : [];
    const res = await this.client.kv.txn({ compare, success, failure: [] });
    if (!res.succeeded) throw this.fencing!.refused('leadership lost: the election key changed, the prune was not applied');
    this.lastRevision = res.header.revision;
    return n;
  }

  /** Waits for queued writes, then releases the client (when it owns it). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.pumping;
    } catch {
      /* each write got its own answer */
    }
    if (this.ownsClient) this.client.close();
  }
}
