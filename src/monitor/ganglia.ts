/**
 * Ganglia XML (what gmond or gmetad print on their TCP port) -> host metrics. Pure: a string in,
 * plain data out; the TCP read lives in ganglia-fetch.ts.
 *
 * gmond's document is GANGLIA_XML > CLUSTER > HOST > METRIC; gmetad's wraps clusters in GRID
 * elements, possibly nested. A host is down when TN (seconds since its last report) exceeds
 * k x TMAX (its announced maximum report interval); Ganglia's own web front-end uses k = 4.
 * Attribute values stay strings (a host named "0123" stays "0123") and are converted here, field
 * by field, so a malformed value yields null instead of NaN.
 */
import type { XMLParser } from 'fast-xml-parser';
import { GangliaErrorCodes, ThreeRcError } from '../lib/errors.js';
import { lazyRequire } from '../lib/lazy.js';

/** fast-xml-parser, loaded at the first document (lib/lazy.ts): a 3rc without Ganglia never loads it. */
const fxp = lazyRequire<typeof import('fast-xml-parser')>('fast-xml-parser');

export interface GangliaHost {
  name: string;
  ip: string | null;
  cluster: string;
  up: boolean;
  /** Seconds since the host last reported. */
  tn: number | null;
  tmax: number | null;
  /** Unix seconds of its last report. */
  reported: number | null;
  loadFive: number | null;
  cpuNum: number | null;
}

export class GangliaParseError extends ThreeRcError {
  constructor(message: string) {
    super(GangliaErrorCodes.XML, message);
  }
}

const ARRAYS = new Set(['GRID', 'CLUSTER', 'HOST', 'METRIC']);

let parser: XMLParser | undefined;
const parserOf = (): XMLParser => (parser ??= new (fxp().XMLParser)({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  parseTagValue: false,
  // gmond's DOCTYPE only declares the structure; no entity expansion is wanted.
  processEntities: false,
  isArray: (name, _path, _leaf, isAttribute) => !isAttribute && ARRAYS.has(name),
}));

type Node = Record<string, unknown>;

function list(v: unknown): Node[] {
  return Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as Node[]) : [];
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown): number | null {
  if (typeof v !== 'string' || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Parses a Ganglia XML document. Throws GangliaParseError (and only that) on anything else. */
export function parseGanglia(xml: string, opts: { k?: number } = {}): GangliaHost[] {
  const k = opts.k ?? 4;
  const valid = fxp().XMLValidator.validate(xml);
  if (valid !== true) throw new GangliaParseError(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  let doc: Node;
  try {
    doc = parserOf().parse(xml) as Node;
  } catch (err) {
    throw new GangliaParseError(`cannot parse: ${(err as Error).message}`);
  }
  const root = doc['GANGLIA_XML'];
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new GangliaParseError('no GANGLIA_XML element');
  const out = new Map<string, GangliaHost>();
  const clusters: Node[] = [];
  const collect = (n: Node, depth: number) => {
    if (depth > 16) throw new GangliaParseError('GRID nesting deeper than 16');
    clusters.push(...list(n['CLUSTER']));
    for (const g of list(n['GRID'])) collect(g, depth + 1);
  };
  collect(root as Node, 0);
  for (const c of clusters) {
    const cluster = str(c['NAME']) ?? '';
    for (const h of list(c['HOST'])) {
      const name = str(h['NAME']);
      if (!name) continue;
      const tn = num(h['TN']);
      const tmax = num(h['TMAX']);
      const metrics = new Map<string, string | null>();
      for (const m of list(h['METRIC'])) {
        const mn = str(m['NAME']);
        if (mn) metrics.set(mn, str(m['VAL']));
      }
      const host: GangliaHost = {
        name, ip: str(h['IP']), cluster,
        // Unknown TN or TMAX: no evidence of life.
        up: tn !== null && tmax !== null && tn <= k * tmax,
        tn, tmax, reported: num(h['REPORTED']),
        loadFive: num(metrics.get('load_five')), cpuNum: num(metrics.get('cpu_num')),
      };
      const prev = out.get(name);
      // The same host seen through two sources: keep the fresher report.
      if (!prev || (host.tn ?? Infinity) < (prev.tn ?? Infinity)) out.set(name, host);
    }
  }
  return [...out.values()];
}
