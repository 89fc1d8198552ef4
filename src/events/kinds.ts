/**
 * Every kind of event 3rc records (boot trace, HA decisions, inventory changes), with the data
 * each carries: one discriminated union that producers construct through and consumers switch
 * over exhaustively ({@link assertNever}), so that a new kind is a compile error in every
 * consumer that has not decided what to do with it (HA evidence, timeline, trace view, metrics).
 *
 * The stored shape does not change (a row is `{ at, kind, mac, host, vm, reason, data }` with
 * `data` a JSON object); rows written by older versions, or with a kind this version does not
 * know, read as {@link OtherEvent} through {@link readEvent}. Types and pure functions only (the
 * browser code imports the types too).
 */

/** DHCP message types as dhcp/options.ts messageTypeName names them (RFC 2132 types 1-8; `bootp`: no option 53). */
export type DhcpMessageName = 'discover' | 'offer' | 'request' | 'decline' | 'ack' | 'nak' | 'release' | 'inform' | 'bootp';

/** A message type RFC 2132 does not name (messageTypeName's `type-N`). */
export type UnnamedDhcpMessage = `type-${number}`;

/** DHCP message types as the trace names them (`dhcp.` and a {@link DhcpMessageName}), plus the server's own. */
export type DhcpEventKind =
  | 'dhcp.discover' | 'dhcp.offer' | 'dhcp.request' | 'dhcp.decline' | 'dhcp.ack' | 'dhcp.nak' | 'dhcp.release' | 'dhcp.inform'
  | 'dhcp.bootp' | 'dhcp.invalid' | 'dhcp.malformed' | 'dhcp.dropped';

/** The data of a DHCP decision (dhcp/reply.ts bootInfo sets the boot facts). */
export interface DhcpEventData {
  xid?: number;
  peer?: string;
  /** Where the reply went (`10.77.0.10:68`), null when none. */
  to?: string | null;
  ip?: string;
  /** The BootTable entry's mode; `none` for a MAC without entry. The HA evidence counts `local` boots. */
  boot?: 'install' | 'local' | 'none';
  /** Option 93 asked (`none`: no option 93, answered as BIOS). */
  arch?: number | 'none';
  /** iPXE, or UEFI HTTP Boot firmware (vendor class HTTPClient or an HTTP architecture). */
  client?: 'ipxe' | 'uefi-http';
  /** Boot firmware asked (PXEClient/HTTPClient vendor class, or iPXE): a boot attempt, counted by the HA evidence. */
  pxe?: true;
  file?: string | null;
  /** Why no boot file. */
  bootFile?: string | null;
  detail?: string;
  [k: string]: unknown;
}

export interface TftpTransferData {
  file: string;
  mac: string | null;
  peer: string;
  outcome: string;
  reason?: string;
  /** Null: not known (refused before the file was opened). */
  size?: number | null;
  blksize?: number | null;
  ms?: number;
  [k: string]: unknown;
}

/** HTTP requests of hosts: `peer` and `status` always. */
export interface HttpEventData {
  peer: string;
  status?: number;
  [k: string]: unknown;
}

/** Every kind and its data. */
export interface EventDataMap {
  'dhcp.discover': DhcpEventData;
  'dhcp.offer': DhcpEventData;
  'dhcp.request': DhcpEventData;
  'dhcp.decline': DhcpEventData;
  'dhcp.ack': DhcpEventData;
  'dhcp.nak': DhcpEventData;
  'dhcp.release': DhcpEventData;
  'dhcp.inform': DhcpEventData;
  'dhcp.bootp': DhcpEventData;
  'dhcp.invalid': DhcpEventData;
  'dhcp.malformed': DhcpEventData;
  'dhcp.dropped': DhcpEventData;
  'tftp.transfer': TftpTransferData;
  'http.file': { file: string; bytes?: number; ms?: number; status?: number; [k: string]: unknown };
  'http.kickstart': HttpEventData;
  'http.ipxe': HttpEventData;
  'http.refused': HttpEventData;
  /** The installer's done callback, as HTTP saw it (status 200: token checked, accepted). */
  'http.install-done': HttpEventData;
  /** The installer's failed callback, as HTTP saw it (status 200: token checked, accepted). */
  'http.install-failed': HttpEventData;
  'install.done': { tokenHash: string; profile: string; [k: string]: unknown };
  'install.failed': { tokenHash: string; profile: string; log?: string; [k: string]: unknown };
  'install.expired': { tokenHash: string | null; profile: string; startedAt: number };
  'install.host-keys': { fingerprints: string[]; rejected: number; [k: string]: unknown };
  'dns.query': { peer: string; name: string; type: number };
  'boot.set': { mode: 'install' | 'local'; profile: string; previous: 'install' | 'local' | null; result: string | null };
  'boot.removed': null;
  'host.created': null;
  'host.updated': null;
  'host.deleted': null;
  'p2v.job': Record<string, unknown>;
  'p2v.refused': { what: string; status: number; peer: string };
  'ha.transition': { from: string; to: string; detail?: string };
  /** The command as the FSM gave it (ha/fsm-types.ts FsmCommand, not arm/cancel-timer nor probe). */
  'ha.action': { type: string; id: string; vm: string; host?: string | null; [k: string]: unknown };
  /** `id`: the action's (the FSM's string ids, `ha.action` data.id). */
  'ha.done': { id: string; action: string; detail?: string };
  /** Admission control changed (ha/admission.ts): its status line, the failure cases that fail and the VMs they strand. */
  'ha.admission': { line: string; failures: number; domain: string; failing: string[]; stranded: string[] };
  'hypervisor.up': { loadFive: number | null };
  'hypervisor.down': { loadFive: number | null };
  /** A hypervisor entered (`on`) or left maintenance (`3rc hv drain|undrain`); the newest one per host is its flag. */
  'hypervisor.maintenance': { on: boolean };
  /** One step of a drain (reason: planned, migrated, moved, blocked, done, failed). */
  'hypervisor.drain': { vm?: string; to?: string | null; how?: 'live' | 'cold'; ms?: number; detail?: string };
  /** A roll's whole progress at each change (ha/roll.ts RollProgress); the newest one is the roll a restarted 3rc shows. */
  'hypervisor.roll': { hosts: string[]; current: string | null; done: string[]; stopped: { host: string; why: string; [k: string]: unknown } | null; cancelling: boolean; startedAt: number; endedAt: number | null };
  /** Events of MACs nobody knows, counted per minute (inventory/trace.ts LimitedTrace). */
  'trace.unknown': { count: number; kinds: Record<string, number>; first: number; last: number };
}

export type EventKind = keyof EventDataMap;

/** The stored fields every event has besides its kind and data. */
export interface EventFields {
  at: number;
  mac?: string | null;
  host?: string | null;
  vm?: string | null;
  reason?: string | null;
}

/** A new event of a known kind (what producers build). */
export type KnownNewEvent = { [K in EventKind]: EventFields & { kind: K; data?: EventDataMap[K] } }[EventKind];

/**
 * A request with a message type RFC 2132 does not name, recorded as `dhcp.type-N` (still DHCP
 * traffic). It is no kind of its own: it reads back as an {@link OtherEvent}.
 */
export type UnnamedDhcpEvent = EventFields & { kind: `dhcp.${UnnamedDhcpMessage}`; data?: DhcpEventData };

/**
 * A DHCPv6 decision (dhcp6/server.ts), `dhcp6.` and the client's message type (`dhcp6.solicit`,
 * `dhcp6.request`, ... `dhcp6.malformed`, `dhcp6.dropped`), with the data of a DHCP decision. No
 * kinds of their own yet: they read back as {@link OtherEvent} (trace retention, shown as they are).
 */
export type Dhcp6Event = EventFields & { kind: `dhcp6.${string}`; data?: DhcpEventData };

/** What the boot trace records (inventory/trace.ts BootTrace): a known kind, a DHCP message without a name, or a DHCPv6 decision. */
export type TraceEvent = KnownNewEvent | UnnamedDhcpEvent | Dhcp6Event;

/** A stored event of a known kind. */
export type KnownEvent = { [K in EventKind]: StoredFields & { kind: K; data: EventDataMap[K] | null } }[EventKind];

/** A stored event of a kind this version does not know (older or newer rows): shown, never acted on. */
export interface OtherEvent extends StoredFields {
  kind: string;
  data: Record<string, unknown> | null;
  /** Marks the unknown kind for exhaustive switches. */
  other: true;
}

interface StoredFields {
  id?: number;
  at: number;
  mac?: string | null;
  host?: string | null;
  vm?: string | null;
  reason?: string | null;
}

const KINDS: Record<EventKind, true> = {
  'dhcp.discover': true, 'dhcp.offer': true, 'dhcp.request': true, 'dhcp.decline': true, 'dhcp.ack': true, 'dhcp.nak': true, 'dhcp.release': true, 'dhcp.inform': true,
  'dhcp.bootp': true, 'dhcp.invalid': true, 'dhcp.malformed': true, 'dhcp.dropped': true,
  'tftp.transfer': true,
  'http.file': true, 'http.kickstart': true, 'http.ipxe': true, 'http.refused': true, 'http.install-done': true, 'http.install-failed': true,
  'install.done': true, 'install.failed': true, 'install.expired': true, 'install.host-keys': true,
  'dns.query': true, 'boot.set': true, 'boot.removed': true, 'host.created': true, 'host.updated': true, 'host.deleted': true,
  'p2v.job': true, 'p2v.refused': true, 'ha.transition': true, 'ha.action': true, 'ha.done': true, 'ha.admission': true, 'hypervisor.up': true, 'hypervisor.down': true, 'hypervisor.maintenance': true, 'hypervisor.drain': true, 'hypervisor.roll': true,
  'trace.unknown': true,
};

/** Every kind, for tests and for the browser's filter lists. */
export const EVENT_KINDS = Object.keys(KINDS) as EventKind[];

export function isEventKind(kind: string): kind is EventKind {
  return Object.prototype.hasOwnProperty.call(KINDS, kind);
}

/**
 * A stored row as a typed event. The kind decides the type; the data is trusted to have the
 * shape its kind's producer writes (rows are written only by 3rc), and null data stays null.
 */
export function readEvent<E extends { kind: string; at: number; data?: Record<string, unknown> | null }>(e: E): (E & KnownEvent) | (E & OtherEvent) {
  if (isEventKind(e.kind)) return e as unknown as E & KnownEvent;
  return { ...e, data: e.data ?? null, other: true } as E & OtherEvent;
}

/** Builds a new event of a known kind: the compiler checks its data against the kind. */
export function newEvent<K extends EventKind>(kind: K, fields: EventFields, data: EventDataMap[K]): EventFields & { kind: K; data: EventDataMap[K] } {
  return { ...fields, kind, data };
}

/** The family of a kind (`dhcp` of `dhcp.discover`). */
export type EventFamily = EventKind extends `${infer F}.${string}` ? F : never;

/** The family of a known kind. */
export function familyOf(kind: EventKind): EventFamily {
  return kind.slice(0, kind.indexOf('.')) as EventFamily;
}

/** For the default of an exhaustive switch: a kind nobody handled is a compile error. */
export function assertNever(x: never, what = 'event kind'): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(x)}`);
}

/**
 * How the event retention treats a kind (issue 19): `trace` events are the boot trace, written
 * per packet of any LAN host (up to events.writesPerSecond), and pruned by count (the newest
 * events.maxEvents of them stay) as well as by age; `record` events are decisions and changes
 * (HA controller, boot table, inventory, installs, P2V, hypervisor reachability), rare and bounded
 * by what the controller and authenticated callers do, kept for events.maxAge whatever their
 * number: a flood of boot trace can never push them out (the HA controller reads its own
 * `ha.action` back when it resumes an action after a restart). A new kind does not compile until
 * it is classified here. Rows of a kind this version does not know (older or newer versions,
 * `dhcp.type-N`) are not in {@link RECORD_KINDS}: they count as trace, and can be pruned by count.
 */
export type Retention = 'trace' | 'record';

export function retentionOf(kind: EventKind): Retention {
  switch (kind) {
    case 'dhcp.discover':
    case 'dhcp.offer':
    case 'dhcp.request':
    case 'dhcp.decline':
    case 'dhcp.ack':
    case 'dhcp.nak':
    case 'dhcp.release':
    case 'dhcp.inform':
    case 'dhcp.bootp':
    case 'dhcp.invalid':
    case 'dhcp.malformed':
    case 'dhcp.dropped':
    case 'tftp.transfer':
    case 'http.file':
    case 'http.kickstart':
    case 'http.ipxe':
    case 'http.refused':
    case 'http.install-done':
    case 'http.install-failed':
    case 'dns.query':
    case 'trace.unknown':
    // A refused capture call: any LAN host provokes one by calling with a known MAC from the
    // wrong address (no token needed), like http.refused, so it is trace, pruned by count.
    case 'p2v.refused':
      return 'trace';
    case 'install.done':
    case 'install.failed':
    case 'install.expired':
    case 'install.host-keys':
    case 'boot.set':
    case 'boot.removed':
    case 'host.created':
    case 'host.updated':
    case 'host.deleted':
    case 'p2v.job':
    case 'ha.transition':
    case 'ha.action':
    case 'ha.done':
    case 'ha.admission':
    case 'hypervisor.up':
    case 'hypervisor.down':
    case 'hypervisor.maintenance':
    case 'hypervisor.drain':
    case 'hypervisor.roll':
      return 'record';
    default:
      return assertNever(kind);
  }
}

/** The `record` kinds: what the retention passes to Store.pruneEvents as exempt from the count. */
export const RECORD_KINDS: readonly EventKind[] = EVENT_KINDS.filter((k) => retentionOf(k) === 'record');
