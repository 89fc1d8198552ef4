/**
 * The lab's ground truth about where a VM runs: its qemu processes, read from /proc, whatever
 * 3rc or libvirt believe. A crash test counts a "double start" whenever two live qemu processes
 * of one VM exist at the same moment (on one host or two): that is a VM running twice.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

export interface QemuProc {
  pid: number;
  vm: string;
  /** Network namespace inode: which host it runs on. */
  netns: number;
  /** Stopped (SIGSTOP): the process exists but the VM is frozen. */
  stopped: boolean;
}

/** libvirt names its qemu processes `-name guest=NAME,...`; the lab's own qemu uses `-name NAME`. */
export function vmOfCmdline(argv: readonly string[]): string | null {
  if (!argv[0] || !/qemu-system/.test(argv[0])) return null;
  const i = argv.indexOf('-name');
  if (i < 0 || !argv[i + 1]) return null;
  const v = argv[i + 1]!;
  const m = /(?:^|,)guest=([^,]+)/.exec(v);
  return m ? m[1]! : v.split(',')[0]!;
}

/** Every live qemu process of the machine, with its VM name and network namespace. */
export function qemuProcesses(): QemuProc[] {
  const out: QemuProc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const vm = vmOfCmdline(argv);
      if (!vm) continue;
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      const ns = /net:\[(\d+)\]/.exec(readlinkSync(`/proc/${d}/ns/net`));
      out.push({ pid: Number(d), vm, netns: ns ? Number(ns[1]) : 0, stopped: state === 'T' || state === 't' });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** The inode of a named network namespace (what /proc/PID/ns/net points at). */
export function netnsInode(name: string): number {
  return statSync(`/run/netns/${name}`).ino;
}

/** A lifecycle event of a lab host's domain (hypervisor.ts), or a marker with vm null: the host's libvirtd is gone. */
export interface LifecycleEvent {
  host: string;
  at: number;
  vm: string | null;
  event: string;
}

/** One /proc sample: when, and which VM runs on which host (`vm@host`). */
export interface ProcSample {
  at: number;
  present: ReadonlySet<string>;
}

/** A moment a VM started on a host while another copy of it was running on another. */
export interface DoubleStart {
  vm: string;
  at: number;
  host: string;
  /** Where the other copy ran. */
  others: string[];
}

/**
 * Double starts from libvirt's lifecycle events, which miss no start however short the overlap:
 * each `Started` of a VM on a host, at a moment when the VM had a copy running on another host,
 * between `from` and `to`. A copy runs from its Started until its Stopped; when its host's event
 * stream ended (vm null: libvirtd killed, by a power cut or a fence, with its VMs), until the
 * first /proc sample after that which no longer shows the VM on that host (later than its real
 * end: an overlap is never missed, at most over-counted by one sampling interval).
 */
export function lifecycleDoubleStarts(events: readonly LifecycleEvent[], samples: readonly ProcSample[], from: number, to: number): DoubleStart[] {
  // Stops before starts at the same millisecond.
  const rank = (e: LifecycleEvent) => (e.event === 'Started' ? 1 : 0);
  const sorted = [...events].sort((a, b) => a.at - b.at || rank(a) - rank(b));
  /** Running copies: vm -> host -> the time its copy stopped (Infinity while running). */
  const until = new Map<string, Map<string, number>>();
  const out: DoubleStart[] = [];
  for (const e of sorted) {
    if (e.vm === null) {
      // Blind from here: each copy on the host ends at the first sample without it.
      for (const [vm, hosts] of until) {
        const end = hosts.get(e.host);
        if (end === undefined || end !== Infinity) continue;
        const gone = samples.find((x) => x.at >= e.at && !x.present.has(`${vm}@${e.host}`));
        hosts.set(e.host, gone ? gone.at : Infinity);
      }
      continue;
    }
    const hosts = until.get(e.vm) ?? new Map<string, number>();
    until.set(e.vm, hosts);
    if (e.event === 'Stopped' || e.event === 'Crashed') {
      if (hosts.get(e.host) === Infinity) hosts.set(e.host, e.at);
    } else if (e.event === 'Started') {
      const others = [...hosts].filter(([h, end]) => h !== e.host && end > e.at).map(([h]) => h);
      if (others.length > 0 && e.at >= from && e.at <= to) out.push({ vm: e.vm, at: e.at, host: e.host, others });
      hosts.set(e.host, Infinity);
    }
  }
  return out;
}

/** The lab's lifecycle events since it started (every host's, in arrival order). */
export class LifecycleLog {
  readonly events: LifecycleEvent[] = [];
  push(e: LifecycleEvent): void {
    this.events.push(e);
  }
}

export interface DoubleStartWatchOptions {
  /** libvirt's lifecycle events of every host: the event-driven check. */
  lifecycle?: LifecycleLog;
  /**
   * Host name of a network namespace inode, undefined for one that is not the lab's: only the
   * lab's hosts' qemu processes count (another lab on the machine may run VMs of the same names).
   */
  hostOf?: (netns: number) => string | undefined;
  everyMs?: number;
}

/**
 * Two checks, counted together: libvirt's lifecycle events (lifecycleDoubleStarts: every start,
 * however short the overlap), and /proc sampled every 250 ms (any qemu, also one libvirt did not
 * start; a shorter overlap can slip between two samples, which the events catch).
 */
export class DoubleStartWatch {
  private timer: NodeJS.Timeout;
  /** Episodes (consecutive samples) with two or more copies, per VM. */
  readonly doubles = new Map<string, number>();
  /** Every qemu pid seen per VM (a restart is a new pid). */
  readonly pids = new Map<string, Set<number>>();
  private inDouble = new Set<string>();
  private readonly samples: ProcSample[] = [];
  private readonly from = Date.now();
  /** The double starts libvirt's events show, once stopped. */
  lifecycleDoubles: DoubleStart[] = [];

  constructor(private readonly vms: readonly string[], private readonly o: DoubleStartWatchOptions = {}) {
    this.sample();
    this.timer = setInterval(() => this.sample(), o.everyMs ?? 250);
  }

  sample(): void {
    const hostOf = this.o.hostOf;
    const procs = hostOf ? qemuProcesses().filter((p) => hostOf(p.netns) !== undefined) : qemuProcesses();
    if (hostOf) this.samples.push({ at: Date.now(), present: new Set(procs.map((p) => `${p.vm}@${hostOf(p.netns)}`)) });
    for (const vm of this.vms) {
      const mine = procs.filter((p) => p.vm === vm);
      for (const p of mine) {
        const set = this.pids.get(vm) ?? new Set<number>();
        set.add(p.pid);
        this.pids.set(vm, set);
      }
      if (mine.length > 1 && !this.inDouble.has(vm)) {
        this.inDouble.add(vm);
        this.doubles.set(vm, (this.doubles.get(vm) ?? 0) + 1);
      } else if (mine.length <= 1) {
        this.inDouble.delete(vm);
      }
    }
  }

  stop(): { doubleStarts: number; pids: Map<string, Set<number>> } {
    clearInterval(this.timer);
    this.sample();
    const sampled = [...this.doubles.values()].reduce((a, b) => a + b, 0);
    if (this.o.lifecycle) {
      this.lifecycleDoubles = lifecycleDoubleStarts(this.o.lifecycle.events, this.samples, this.from, Date.now()).filter((d) => this.vms.includes(d.vm));
    }
    return { doubleStarts: Math.max(sampled, this.lifecycleDoubles.length), pids: this.pids };
  }
}
