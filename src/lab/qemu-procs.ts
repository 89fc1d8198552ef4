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

/** Samples qemu processes until stopped; counts moments with more than one copy of a VM. */
export class DoubleStartWatch {
  private timer: NodeJS.Timeout;
  /** Episodes (consecutive samples) with two or more copies, per VM. */
  readonly doubles = new Map<string, number>();
  /** Every qemu pid seen per VM (a restart is a new pid). */
  readonly pids = new Map<string, Set<number>>();
  private inDouble = new Set<string>();

  constructor(private readonly vms: readonly string[], everyMs = 250) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  sample(): void {
    const procs = qemuProcesses();
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
    return { doubleStarts: [...this.doubles.values()].reduce((a, b) => a + b, 0), pids: this.pids };
  }
}
