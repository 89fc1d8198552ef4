/**
 * Leader election through an etcd lease. Each instance holds a lease (TTL from the config, kept
 * alive at a third of it) and campaigns by creating the election key with that lease, in a
 * transaction that succeeds only if the key does not exist. The key's create revision is the
 * fencing token: every store write of the leader compares it (src/store/etcd.ts), so a write from
 * a deposed leader is refused by etcd itself.
 *
 * Stepping down is immediate and local: when a keep-alive has not been confirmed for long enough
 * that the lease might have expired in etcd (a TTL after the oldest unanswered keep-alive was
 * sent, minus a margin), when the client reports the lease lost, or when the key changes under
 * us, the instance stops being leader at once (fence() returns null before anything else runs),
 * then gets a new lease and campaigns again as a follower.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Lease, Watcher } from 'etcd3';
import { delay, every, type Clock, type Timer } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';

export interface LeaderInfo {
  name: string;
  /** The leader's API, for followers' refusals. */
  url: string | null;
  /** Set once the leader has loaded its state and serves. */
  ready: boolean;
}

export interface ElectionOptions {
  client: Etcd3;
  key: string;
  me: { name: string; url: string | null };
  ttlSeconds: number;
  /** Lease validity, the watchdog and the retries run on it (tests give a fake one). */
  clock: Clock;
  log: Logger;
}

export type Role = 'leader' | 'follower';

export class Election extends EventEmitter<{ elected: []; deposed: [reason: string]; leader: [LeaderInfo | null] }> {
  role: Role = 'follower';
  /** The known leader (from the key), this instance included. */
  current: LeaderInfo | null = null;
  private readonly o: ElectionOptions;
  private lease: Lease | null = null;
  private leaseId: string | null = null;
  private createRevision: string | null = null;
  /** Keep-alives sent and not yet answered (send times), and until when the lease surely lives. */
  private unanswered: number[] = [];
  private validUntil = 0;
  private watcher: Watcher | null = null;
  private watchdog: Timer | null = null;
  private retry: Timer | null = null;
  private again: Timer | null = null;
  private stopped = false;
  private campaigning = false;
  private readonly marginMs: number;

  constructor(o: ElectionOptions) {
    super();
    this.o = o;
    this.marginMs = Math.min(1000, (o.ttlSeconds * 1000) / 5);
  }

  /** The fencing token while leader; null otherwise. */
  fence(): { key: string; createRevision: string } | null {
    if (this.role !== 'leader' || this.createRevision === null) return null;
    if (this.o.clock.now() >= this.validUntil - this.marginMs) {
      this.stepDown('lease keep-alive not confirmed in time');
      return null;
    }
    return { key: this.o.key, createRevision: this.createRevision };
  }

  /** Watches the key and campaigns once; resolves when this instance knows its first role. */
  async start(): Promise<void> {
    this.watchdog = every(this.o.clock, 100, () => {
      if (this.role === 'leader' && this.o.clock.now() >= this.validUntil - this.marginMs) this.stepDown('lease keep-alive not confirmed in time');
    });
    // Campaign again now and then, whatever the watch says (a missed event costs one period).
    this.retry = every(this.o.clock, Math.max(1000, (this.o.ttlSeconds * 1000) / 2), () => void this.campaign());
    for (;;) {
      try {
        this.watcher = await this.o.client.watch().key(this.o.key).create();
        break;
      } catch (err) {
        this.o.log.warn({ err }, 'cluster: cannot watch the election key yet; retrying');
        if (this.stopped) return;
        await delay(this.o.clock, 500);
      }
    }
    this.watcher.on('put', (kv) => this.seen(kv));
    this.watcher.on('delete', () => {
      this.setCurrent(null);
      if (this.role === 'leader') this.stepDown('the election key was deleted');
      void this.campaign();
    });
    await this.campaign();
  }

  /** Sets the value of the key we hold (e.g. ready), only if we still hold it. */
  async announce(ready: boolean): Promise<boolean> {
    const fence = this.fence();
    if (!fence || !this.leaseId) return false;
    const info: LeaderInfo = { ...this.o.me, ready };
    const res = await this.o.client.kv.txn({
      compare: [{ key: Buffer.from(this.o.key), target: 'Create', result: 'Equal', create_revision: fence.createRevision }],
      success: [{ request_put: { key: Buffer.from(this.o.key), value: Buffer.from(JSON.stringify(info)), lease: this.leaseId } }],
      failure: [],
    });
    if (res.succeeded) this.setCurrent(info);
    return res.succeeded;
  }

  private seen(kv: IKeyValue): void {
    let info: LeaderInfo | null = null;
    try {
      info = JSON.parse(kv.value.toString('utf8')) as LeaderInfo;
    } catch {
      info = { name: kv.value.toString('utf8'), url: null, ready: false };
    }
    this.setCurrent(info);
    if (this.role === 'leader' && kv.create_revision !== this.createRevision) this.stepDown('another instance holds the election key');
  }

  private setCurrent(info: LeaderInfo | null): void {
    const before = JSON.stringify(this.current);
    this.current = info;
    if (JSON.stringify(info) !== before) this.emit('leader', info);
  }

  private async ensureLease(): Promise<string> {
    if (this.lease && this.leaseId && !this.lease.revoked()) return this.leaseId;
    const sentAt = this.o.clock.now();
    const lease = this.o.client.lease(this.o.ttlSeconds);
    this.lease = lease;
    this.unanswered = [];
    lease.on('keepaliveFired', () => this.unanswered.push(this.o.clock.now()));
    // A new keep-alive stream (the old one broke): what was sent on the old one gets no answer.
    lease.on('keepaliveEstablished', () => (this.unanswered = []));
    lease.on('keepaliveSucceeded', (res) => {
      const firedAt = this.unanswered.shift() ?? this.o.clock.now();
      if (lease === this.lease) this.validUntil = Math.max(this.validUntil, firedAt + Number(res.TTL) * 1000);
    });
    lease.on('lost', (err) => {
      if (lease !== this.lease) return;
      this.o.log.warn({ err: err?.message }, 'cluster: etcd lease lost');
      this.lease = null;
      this.leaseId = null;
      if (this.role === 'leader') this.stepDown('etcd lease lost');
      void this.campaign();
    });
    try {
      this.leaseId = await lease.grant();
    } catch (err) {
      if (this.lease === lease) {
        this.lease = null;
        this.leaseId = null;
      }
      throw err;
    }
    this.validUntil = sentAt + this.o.ttlSeconds * 1000;
    return this.leaseId;
  }

  /** One attempt to create the key with our lease. */
  async campaign(): Promise<void> {
    if (this.stopped || this.campaigning || this.role === 'leader') return;
    this.campaigning = true;
    try {
      const leaseId = await this.ensureLease();
      const info: LeaderInfo = { ...this.o.me, ready: false };
      const key = Buffer.from(this.o.key);
      const res = await this.o.client.kv.txn({
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value: Buffer.from(JSON.stringify(info)), lease: leaseId } }],
        failure: [{ request_range: { key } }],
      });
      if (this.stopped) return;
      const kv = res.responses[0]?.response_range?.kvs[0];
      // Won; or won by an earlier attempt whose answer got lost (the key holds our lease).
      const won = res.succeeded ? res.header.revision : kv && String(kv.lease) === String(leaseId) ? kv.create_revision : null;
      if (won) {
        this.createRevision = won;
        this.role = 'leader';
        this.setCurrent(info);
        this.o.log.info({ revision: won, lease: leaseId }, 'cluster: elected leader');
        this.emit('elected');
        // Won with a lease we cannot vouch for any more: fence() steps down at once (and revokes it).
        this.fence();
        return;
      }
      if (kv) this.seen(kv);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'cluster: campaign failed (etcd unreachable?); retrying');
    } finally {
      this.campaigning = false;
    }
  }

  /** Stops being leader at once (fence() is null from now on), then campaigns again. */
  stepDown(reason: string): void {
    if (this.role !== 'leader') return;
    this.role = 'follower';
    this.createRevision = null;
    this.o.log.warn({ reason }, 'cluster: stepped down');
    // Our lease may still live in etcd: revoke it so that the key goes now, not at expiry.
    const lease = this.lease;
    this.lease = null;
    this.leaseId = null;
    lease?.revoke().catch(() => undefined);
    this.emit('deposed', reason);
    if (!this.stopped) this.again = this.o.clock.schedule(200, () => void this.campaign());
  }

  /** Leaves the election: releases the key (revokes the lease) so that another takes over now. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watchdog?.cancel();
    this.retry?.cancel();
    this.again?.cancel();
    const wasLeader = this.role === 'leader';
    this.role = 'follower';
    this.createRevision = null;
    if (wasLeader) this.emit('deposed', 'stopping');
    await this.watcher?.cancel().catch(() => undefined);
    await this.lease?.revoke().catch(() => undefined);
    this.lease = null;
  }
}
