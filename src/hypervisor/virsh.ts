/**
 * virsh's output and errors, parsed without I/O. Commands run with LC_ALL=C, because virsh
 * translates state names and messages.
 *
 * `virsh list --all` prints a table (libvirt >= 5.3 pads columns with vshTable; older versions
 * printf " %-5s %-30s %s"); both have an Id column (`-` when off), a Name and a State that can be
 * two words ("shut off", "in shutdown", "no state"). `virsh domstate` prints the state alone.
 * States, from virshDomainStateToString: no state, running, idle (blocked), paused, in shutdown,
 * shut off, crashed, pmsuspended.
 */
import type { VmListing, VmRunState } from './driver.js';

const STATES = ['no state', 'running', 'idle', 'blocked', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended'];

/**
 * The driver's two states. Only `shut off` is off: every other state may hold the VM's disk
 * (a paused or crashed-and-preserved domain still has its qemu process), so it counts as
 * running and must be destroyed before the VM starts anywhere else. Unknown states too.
 */
export function virshRunState(state: string): VmRunState {
  return state.trim().toLowerCase() === 'shut off' ? 'off' : 'running';
}

/** Rows of `virsh list --all`, with virsh's own state names. */
export function parseVirshListTable(out: string): { id: string | null; name: string; state: string }[] {
  const rows: { id: string | null; name: string; state: string }[] = [];
  const lines = out.split(/\r?\n/);
  const rule = lines.findIndex((l) => /^-{3,}\s*$/.test(l.trim()));
  const statesRe = STATES.map((s) => s.replace(/ /g, '\\s')).join('|');
  const known = new RegExp(`^\\s*(\\S+)\\s+(.+?)\\s+(${statesRe})\\s*$`, 'i');
  const any = /^\s*(\S+)\s+(\S+)\s+(.+?)\s*$/;
  for (const line of lines.slice(rule + 1)) {
    if (line.trim() === '') continue;
    const m = known.exec(line) ?? any.exec(line);
    if (!m) continue;
    rows.push({ id: m[1] === '-' ? null : m[1]!, name: m[2]!, state: m[3]!.toLowerCase() });
  }
  return rows;
}

/** `virsh list --all` as driver listings. */
export function parseVirshList(out: string): VmListing[] {
  return parseVirshListTable(out).map((r) => ({ name: r.name, state: virshRunState(r.state) }));
}

/** `virsh domstate NAME` (or `--reason`: "shut off (destroyed)"): the state, virsh's words. */
export function parseDomstate(out: string): string | null {
  const line = out.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '');
  return line === undefined ? null : line.replace(/\s*\(.*\)$/, '').toLowerCase();
}

/** What a virsh error message says happened. */
export type VirshFailure = 'no-such-vm' | 'already-running' | 'not-running' | 'no-connection' | 'other';

/**
 * What a failed virsh command means, from its stderr. Messages are libvirt's
 * (src/util/virerror.c VIR_ERR_NO_DOMAIN, VIR_ERR_OPERATION_INVALID; tools/virsh-domain.c).
 */
export function classifyVirshError(stderr: string): VirshFailure {
  const s = stderr.toLowerCase();
  if (/failed to connect to the hypervisor|failed to connect socket|cannot recv data|end of file while reading data|no connection driver available/.test(s)) return 'no-connection';
  if (/domain not found|failed to get domain|no domain with matching (name|uuid|id)/.test(s)) return 'no-such-vm';
  if (/domain is already active|domain is already running/.test(s)) return 'already-running';
  if (/domain is not running|domain is not active/.test(s)) return 'not-running';
  return 'other';
}

/**
 * Names the libvirt driver passes to virsh: letters, digits, `.`, `_`, `-`, not starting with
 * `-` (which virsh would read as an option). Anything else is refused, not escaped.
 */
export function isPlainDomainName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(name);
}

/**
 * Extra `virsh migrate` flags a hypervisor's config may add (e.g. `--unsafe`, `--compressed`,
 * `--auto-converge`): long options without a value only, so nothing else reaches the shell.
 */
export function isMigrateFlag(flag: string): boolean {
  return /^--[a-z][a-z-]{1,40}$/.test(flag);
}
