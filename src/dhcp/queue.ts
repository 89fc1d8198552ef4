/**
 * The DHCP receive queue: what the server does when datagrams arrive faster than it answers them
 * (issue 26: past its ceiling 3rc kept working on requests whose clients had given up, and its
 * goodput fell to half: congestion collapse). Pure: time comes from the caller (the server's
 * Clock), no I/O; the server drains its sockets into it and takes a bounded slice per turn.
 *
 * The rules, each for goodput under backlog:
 * - Two lanes. REQUESTs (and DECLINE, RELEASE, INFORM: clients further along) come before
 *   DISCOVERs and anything unclassified: an answered REQUEST is a finished lease, an answered
 *   DISCOVER is only half of one and costs a REQUEST later.
 * - Newest first within a lane: under backlog the oldest entries are the ones whose clients are
 *   most likely to have retransmitted or given up (an answer after the client's timeout is work
 *   for nothing, and answering it makes every later answer later too).
 * - Superseded work is dropped: a queued DISCOVER or REQUEST whose client (chaddr) has sent
 *   another packet of the same exchange since (the same xid: a retransmission, or the REQUEST
 *   that follows the OFFER). The newer packet carries the client's current state; answering
 *   both would send two answers to a client that waits for one. Under backlog (more than
 *   `backlog` entries waiting) a queued DISCOVER is also superseded by a newer xid from its
 *   client (it started over). Not without backlog, and never a REQUEST: one chaddr can have
 *   exchanges in flight side by side (perfdhcp's simulated clients do; so do two boot stages
 *   of one machine), and work that will be done this turn anyway is not worth dropping.
 * - Stale work is dropped: an entry older than `maxAge` ms (clients retransmit after ~4 s,
 *   RFC 2131 section 4.1; perfdhcp counts a drop after 1 s).
 * - Bounded: past `capacity` entries the oldest DISCOVER goes first, then the oldest REQUEST.
 *
 * With a queue that never backs up (every entry taken in the turn it arrived) none of this
 * changes anything but the order within one turn.
 */

/** Why a queued datagram was dropped without being handled (counted per reason in /metrics). */
export type QueueDrop = 'queue-full' | 'superseded' | 'stale';

/** What the queue knows of a datagram (see packet.ts peekRequest). */
export interface QueueKey {
  /** Arrival (ms, the server's clock). */
  at: number;
  /** The client (chaddr, per socket kind), or null when it cannot be told (not Ethernet, too short). */
  client: number | null;
  xid: number;
  /** A DISCOVER (superseded by a new xid of its client under backlog). */
  discover: boolean;
  /** REQUEST, DECLINE, RELEASE, INFORM: first lane. */
  urgent: boolean;
  /** DISCOVER or REQUEST: work that a newer packet of the same client makes useless. */
  replaceable: boolean;
}

interface Entry<T> extends QueueKey {
  item: T;
  dead: boolean;
}

export interface QueueLimits {
  /** Entries held at most (both lanes). */
  capacity: number;
  /** ms: older entries are dropped, not handled. */
  maxAge: number;
  /** Entries waiting past which a queued DISCOVER is superseded by a newer xid of its client. */
  backlog: number;
}

/** A stack that can also be trimmed from its bottom (oldest end) in O(1). */
class Lane<T> {
  private items: Array<Entry<T>> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(e: Entry<T>): void {
    this.items.push(e);
  }

  /** Newest. */
  pop(): Entry<T> | undefined {
    if (this.length === 0) return undefined;
    const e = this.items.pop()!;
    if (this.length === 0) this.reset();
    return e;
  }

  peekOldest(): Entry<T> | undefined {
    return this.length > 0 ? this.items[this.head] : undefined;
  }

  shift(): Entry<T> | undefined {
    if (this.length === 0) return undefined;
    const e = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as Entry<T>;
    if (this.length === 0) this.reset();
    else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return e;
  }

  private reset(): void {
    this.items = [];
    this.head = 0;
  }
}

export class RequestQueue<T> {
  /** [urgent, the rest]. Dead entries (dropped while queued) stay until reached. */
  private readonly lanes: [Lane<T>, Lane<T>] = [new Lane(), new Lane()];
  /** Client -> its newest live entry. */
  private readonly latest = new Map<number, Entry<T>>();
  private live = 0;

  /** `onDrop` hears every entry dropped unhandled, with the reason. */
  constructor(private readonly limits: QueueLimits, private readonly onDrop: (reason: QueueDrop, item: T) => void) {}

  /** Entries waiting (dropped ones not counted). */
  get size(): number {
    return this.live;
  }

  push(key: QueueKey, item: T): void {
    // Field by field, not a spread of `key`: one object of one shape per datagram (issue 26: the
    // spread was the queue's largest cost per packet).
    const e: Entry<T> = { at: key.at, client: key.client, xid: key.xid, discover: key.discover, urgent: key.urgent, replaceable: key.replaceable, item, dead: false };
    if (key.client !== null) {
      const prev = this.latest.get(key.client);
      if (prev && prev.replaceable && (prev.xid === key.xid || (prev.discover && this.live > this.limits.backlog))) this.kill(prev, 'superseded');
      this.latest.set(key.client, e);
    }
    while (this.live >= this.limits.capacity) {
      const victim = this.oldestLive(1) ?? this.oldestLive(0);
      if (!victim) break;
      this.kill(victim, 'queue-full');
    }
    this.lanes[key.urgent ? 0 : 1].push(e);
    this.live++;
  }

  /** The next item to handle at time `now`, or undefined when nothing live is left. */
  take(now: number): T | undefined {
    for (const lane of this.lanes) {
      // Stale entries are at the bottom (oldest end): trim them first, so that they are counted
      // and free their room even while newer work keeps the top busy.
      for (let e = lane.peekOldest(); e && (e.dead || now - e.at > this.limits.maxAge); e = lane.peekOldest()) {
        lane.shift();
        if (!e.dead) this.kill(e, 'stale');
      }
      for (let e = lane.pop(); e; e = lane.pop()) {
        if (e.dead) continue;
        this.forget(e);
        if (now - e.at > this.limits.maxAge) {
          this.onDrop('stale', e.item);
          continue;
        }
        return e.item;
      }
    }
    return undefined;
  }

  /** Drops everything (server stop); not counted as drops. */
  clear(): void {
    for (const lane of this.lanes) while (lane.length) lane.pop();
    this.latest.clear();
    this.live = 0;
  }

  private oldestLive(i: 0 | 1): Entry<T> | undefined {
    const lane = this.lanes[i];
    for (let e = lane.peekOldest(); e; e = lane.peekOldest()) {
      if (!e.dead) return e;
      lane.shift();
    }
    return undefined;
  }

  private kill(e: Entry<T>, reason: QueueDrop): void {
    this.forget(e);
    this.onDrop(reason, e.item);
  }

  /** Marks an entry gone (handled or dropped); it stays in its lane until reached. */
  private forget(e: Entry<T>): void {
    e.dead = true;
    this.live--;
    if (e.client !== null && this.latest.get(e.client) === e) this.latest.delete(e.client);
  }
}
