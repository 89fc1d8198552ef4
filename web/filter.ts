/**
 * The overview's filter, pure (shared by the page and its unit tests): free text, every word of
 * which must appear in one of a row's fields, and a state choice. Runs in the browser: no Node.
 */

export interface FilterSpec {
  /** Words separated by spaces; case does not matter. */
  text: string;
  /** `all`, `problem`, or one state (`running`, `down`, `install`, `quarantined`, ...). */
  state: string;
}

/** States that need no attention; anything else counts as a problem (a VM in recovery, a host down). */
const HEALTHY = new Set(['running', 'up', 'local', 'unmonitored', 'disabled']);

export function isProblem(state: string): boolean {
  return !HEALTHY.has(state);
}

export function words(text: string): string[] {
  return text.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
}

/**
 * Whether a row passes: `fields` are what text matches against (name, host, reason, IP, MAC...),
 * `states` the row's states (a VM's HA state; a host's boot mode; a hypervisor's up/down).
 */
export function matches(spec: FilterSpec, fields: readonly (string | number | null | undefined)[], states: readonly string[]): boolean {
  if (spec.state !== 'all' && spec.state !== '') {
    const ok = spec.state === 'problem' ? states.some(isProblem) : states.includes(spec.state);
    if (!ok) return false;
  }
  const ws = words(spec.text);
  if (ws.length === 0) return true;
  const hay = fields.filter((f) => f !== null && f !== undefined).map((f) => String(f).toLowerCase());
  return ws.every((w) => hay.some((h) => h.includes(w)));
}

/** The filter in the URL hash query (`#/?q=vm1&state=problem`), so a filtered view can be shared. */
export function filterFromQuery(query: string): FilterSpec {
  const p = new URLSearchParams(query);
  return { text: p.get('q') ?? '', state: p.get('state') ?? 'all' };
}

export function filterToQuery(spec: FilterSpec): string {
  const p = new URLSearchParams();
  if (spec.text) p.set('q', spec.text);
  if (spec.state && spec.state !== 'all') p.set('state', spec.state);
  return p.toString();
}
