/**
 * `3rc import --merge CONFIG`: adds an import (map.ts's config data) to an existing config's
 * text, keeping its comments and layout (yaml's parseDocument), and refuses conflicts: a host
 * whose MAC, address or name an existing host has, a subnet that overlaps an existing one with
 * other settings, a boot-file slot or a profile set otherwise. Pure: text in, text out; the
 * caller validates the result with 3rc's config loader.
 */
import { isMap, isSeq, parseDocument } from 'yaml';
import { cidrContains, normalizeMac, parseCidr } from '../lib/net.js';

type Obj = Record<string, unknown>;

export interface Merged {
  /** The new config text; null when there were conflicts (nothing to write). */
  text: string | null;
  conflicts: string[];
  /** What was added, kept or differs without being a conflict. */
  remarks: string[];
}

const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Merges `imported` (a config as data) into the config text `existing`. */
export function mergeConfig(existing: string, imported: Obj): Merged {
  const doc = parseDocument(existing);
  const cur = (doc.toJS() ?? {}) as Obj;
  const conflicts: string[] = [];
  const remarks: string[] = [];
  const add = (path: string[], value: unknown) => {
    if (!isSeq(doc.getIn(path, true))) doc.setIn(path, doc.createNode([]));
    doc.addIn(path, doc.createNode(value));
  };

  // network: keep the config's own settings; say where the import differs.
  const net = (cur.network ?? {}) as Obj;
  const inet = imported.network as Obj;
  for (const key of ['domain', 'serverIp', 'nameServers', 'leaseTime']) {
    if (inet[key] !== undefined && net[key] !== undefined && !same(inet[key], net[key])) {
      remarks.push(`network.${key}: the config's ${JSON.stringify(net[key])} is kept (the import says ${JSON.stringify(inet[key])})`);
    }
  }
  const subnets = list(net.subnets);
  for (const s of list(inet.subnets)) {
    const c = parseCidr(String(s.cidr))!;
    const i = subnets.findIndex((e) => { const ec = parseCidr(String(e.cidr)); return ec !== null && (cidrContains(ec, c.network) || cidrContains(c, ec.network)); });
    if (i === -1) { add(['network', 'subnets'], s); remarks.push(`network.subnets: ${c.text} added`); continue; }
    const e = subnets[i]!;
    const ec = parseCidr(String(e.cidr))!;
    if (ec.text !== c.text) { conflicts.push(`subnet ${c.text} overlaps network.subnets[${i}] (${ec.text})`); continue; }
    for (const key of ['router', 'nameServers', 'pool'] as const) {
      if (s[key] === undefined) continue;
      if (e[key] === undefined) { doc.setIn(['network', 'subnets', i, key], doc.createNode(s[key])); remarks.push(`network.subnets[${i}].${key} set from the import`); }
      else if (!same(e[key], s[key])) conflicts.push(`subnet ${c.text}: ${key} ${JSON.stringify(s[key])} differs from network.subnets[${i}].${key} ${JSON.stringify(e[key])}`);
    }
  }

  // Boot files by architecture: a slot the config sets otherwise is a conflict.
  const boot = (((imported.servers as Obj | undefined)?.dhcp as Obj | undefined)?.bootFiles ?? {}) as Obj;
  const curBoot = ((((cur.servers as Obj | undefined)?.dhcp as Obj | undefined)?.bootFiles ?? {}) as Obj);
  for (const [slot, file] of Object.entries(boot)) {
    if (curBoot[slot] === undefined) doc.setIn(['servers', 'dhcp', 'bootFiles', slot], file);
    else if (curBoot[slot] !== file) conflicts.push(`servers.dhcp.bootFiles.${slot}: the import gives ${JSON.stringify(file)}, the config ${JSON.stringify(curBoot[slot])}`);
  }

  // Profiles: a name the config has with other settings is a conflict.
  const curProfiles = list(cur.profiles);
  for (const p of list(imported.profiles)) {
    const i = curProfiles.findIndex((e) => e.name === p.name);
    if (i === -1) add(['profiles'], p);
    else if (!same(curProfiles[i]!.loaders, p.loaders)) conflicts.push(`profile ${String(p.name)}: profiles[${i}] has that name with other loaders`);
  }

  // Hosts: the same MAC, address or name as an existing host is a conflict (the same host twice is not).
  const curHosts = list(cur.hosts).map((h) => ({ name: String(h.name ?? '').toLowerCase(), mac: normalizeMac(String(h.mac ?? '')), ip: String(h.ip ?? '') }));
  let added = 0;
  for (const h of list(imported.hosts)) {
    const i = curHosts.findIndex((e) => e.mac === h.mac || e.ip === h.ip || e.name === h.name);
    if (i === -1) { add(['hosts'], h); added++; continue; }
    const e = curHosts[i]!;
    if (e.mac === h.mac && e.ip === h.ip && e.name === h.name) { remarks.push(`host ${String(h.name)} is already hosts[${i}], kept as it is`); continue; }
    const what = [e.mac === h.mac && `MAC ${String(h.mac)}`, e.ip === h.ip && `address ${String(h.ip)}`, e.name === h.name && `name ${String(h.name)}`].filter(Boolean).join(', ');
    conflicts.push(`host ${String(h.name)} (${String(h.mac)}, ${String(h.ip)}): same ${what} as hosts[${i}] (${e.name}, ${e.mac}, ${e.ip})`);
  }
  remarks.push(`${added} host(s) added`);
  if (conflicts.length) return { text: null, conflicts, remarks };
  if (!isMap(doc.contents)) return { text: null, conflicts: ['the config is not a YAML mapping'], remarks };
  return { text: doc.toString(), conflicts, remarks };
}
