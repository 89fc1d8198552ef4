/**
 * dnsmasq's config (dnsmasq(8)) read into the import model: dhcp-host, dhcp-range, dhcp-boot,
 * dhcp-match on the client architecture and the `tag:` rules that tie boot files to hosts or
 * architectures, dhcp-option router and DNS servers, domain, host-record, addn-hosts, and the
 * conf-file / conf-dir includes. Every other line becomes a note. Pure: files come through
 * {@link InputFiles}.
 *
 * Line syntax as dnsmasq's own reader (option.c read_file): `name=value` or a bare `name`;
 * a `#` at the start of a line or after whitespace starts a comment, except inside double
 * quotes, which are removed; there is no line continuation.
 */
import { dirname, resolve } from 'node:path';
import { isIpv4, parseIpv4 } from '../lib/net.js';
import {
  emptyModel, leaseSeconds, listInput, noter, prefixOfNetmask, readInput,
  type ImportModel, type ImportedHost, type InputFiles, type Source,
} from './model.js';

interface Line {
  name: string;
  value: string;
  source: Source;
}

/** One logical line: comment removed, quotes removed, split at the first `=`. */
function splitLine(raw: string): { name: string; value: string } | null {
  let out = '';
  let white = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '"') {
      const end = raw.indexOf('"', i + 1);
      out += raw.slice(i + 1, end === -1 ? raw.length : end);
      i = end === -1 ? raw.length : end;
      white = false;
      continue;
    }
    if (c === '#' && white) break;
    white = /\s/.test(c);
    out += c;
  }
  out = out.trim();
  if (!out) return null;
  const eq = out.indexOf('=');
  return eq === -1 ? { name: out, value: '' } : { name: out.slice(0, eq).trim(), value: out.slice(eq + 1).trim() };
}

/** Every option line of `file` and of the files it includes, in dnsmasq's order. */
function readLines(fs: InputFiles, file: string, from: Source | undefined, seen: Set<string>, out: Line[]): void {
  if (seen.has(file)) return; // an include loop: dnsmasq would read forever
  seen.add(file);
  const text = readInput(fs, file, from);
  text.split(/\r?\n/).forEach((raw, i) => {
    const parsed = splitLine(raw);
    if (!parsed) return;
    const source = { file, line: i + 1, text: raw.trim() };
    if (parsed.name === 'conf-file') {
      readLines(fs, resolve(dirname(file), parsed.value), source, seen, out);
    } else if (parsed.name === 'conf-dir') {
      // conf-dir=DIR[,.ext...] skips those extensions; conf-dir=DIR,*.conf reads only those.
      const [dir, ...filters] = parsed.value.split(',');
      const path = resolve(dirname(file), dir!);
      const only = filters.filter((f) => f.startsWith('*')).map((f) => f.slice(1));
      const skip = filters.filter((f) => !f.startsWith('*'));
      const names = listInput(fs, path, source)
        .filter((n) => !n.startsWith('.') && !n.startsWith('#') && !n.endsWith('~'))
        .filter((n) => (only.length ? only.some((e) => n.endsWith(e)) : !skip.some((e) => n.endsWith(e))))
        .sort();
      for (const n of names) readLines(fs, resolve(path, n), source, seen, out);
    } else {
      out.push({ ...parsed, source });
    }
  });
}

/** Splits `tag:a,set:b,rest...` into its tags, the tags it sets and the rest. */
function tags(value: string): { tags: string[]; sets: string[]; rest: string[] } {
  const parts = value.split(',').map((p) => p.trim());
  const out = { tags: [] as string[], sets: [] as string[], rest: [] as string[] };
  for (const p of parts) {
    if (p.startsWith('tag:')) out.tags.push(p.slice(4));
    else if (p.startsWith('set:')) out.sets.push(p.slice(4));
    else if (p.startsWith('net:')) out.sets.push(p.slice(4)); // the old spelling of set:
    else out.rest.push(p);
  }
  return out;
}

const MAC_LIKE = /^([0-9a-f*]{1,2}[:-]){5,}[0-9a-f*]{1,2}$/i;
const LEASE = /^(\d+[smhdw]?|infinite)$/i;

/** Parses a dnsmasq config (and its includes) into the import model. */
export function parseDnsmasq(fs: InputFiles, file: string): ImportModel {
  const lines: Line[] = [];
  readLines(fs, file, undefined, new Set(), lines);
  const model = emptyModel();
  const note = noter(model);

  const archTags = new Map<string, number>();
  const hostTags = new Map<string, ImportedHost[]>();
  const boots: Line[] = [];
  for (const l of lines) {
    switch (l.name) {
      case 'domain': {
        const [d, ...scope] = l.value.split(',');
        if (scope.length) note(l.source, 'has no 3rc equivalent (one domain for every host), left out');
        else model.domain = { value: d!.trim(), source: l.source };
        break;
      }
      case 'dhcp-range':
        range(l, model, note);
        break;
      case 'dhcp-host': {
        const h = host(l, note);
        if (!h) break;
        model.hosts.push(h.host);
        for (const t of h.sets) hostTags.set(t, [...(hostTags.get(t) ?? []), h.host]);
        break;
      }
      case 'dhcp-match': {
        // set:TAG,option:client-arch,N (or 93,N): the client architecture, as 3rc's boot-file slots.
        const t = tags(l.value);
        const [opt, val, extra] = t.rest;
        if (t.sets.length === 1 && !t.tags.length && (opt === 'option:client-arch' || opt === '93') && val !== undefined && /^\d+$/.test(val) && extra === undefined) {
          archTags.set(t.sets[0]!, Number(val));
        } else {
          note(l.source, 'has no 3rc equivalent (3rc matches the client architecture only), left out');
        }
        break;
      }
      case 'dhcp-boot':
        boots.push(l);
        break;
      case 'dhcp-option':
        option(l, model, note);
        break;
      case 'host-record': {
        const parts = l.value.split(',').map((p) => p.trim());
        const ips = parts.filter(isIpv4);
        const names = parts.filter((p) => !isIpv4(p) && !p.includes(':') && !/^\d+$/.test(p));
        if (ips.length !== 1 || !names.length) note(l.source);
        else for (const name of names) model.names.push({ name, ip: ips[0]!, source: l.source });
        if (parts.some((p) => p.includes(':'))) note(l.source, 'has an IPv6 address, which 3rc takes per host (hosts[].ipv6) and the import leaves out');
        break;
      }
      case 'addn-hosts':
        hostsFile(fs, resolve(dirname(l.source.file), l.value), l.source, model);
        break;
      default:
        note(l.source);
    }
  }

  // dhcp-boot last: the tags it names may be set further down the file.
  for (const l of boots) {
    const t = tags(l.value);
    const [fileName, , server] = t.rest;
    if (!fileName || t.sets.length || t.tags.length > 1 || t.tags.some((x) => x.startsWith('!'))) {
      note(l.source, 'has no 3rc equivalent (a boot file goes to everyone, to one architecture or to one host), left out');
      continue;
    }
    const nextServer = server && isIpv4(server) ? server : undefined;
    if (server && !nextServer) note(l.source, `names its TFTP server as ${server}, not an address: 3rc hands out network.serverIp`);
    const tag = t.tags[0];
    if (tag === undefined) {
      model.bootRules.push({ arch: null, file: fileName, ...(nextServer ? { nextServer } : {}), source: l.source });
    } else if (archTags.has(tag)) {
      model.bootRules.push({ arch: archTags.get(tag)!, file: fileName, ...(nextServer ? { nextServer } : {}), source: l.source });
    } else if (hostTags.has(tag)) {
      for (const h of hostTags.get(tag)!) {
        h.bootFile = fileName;
        if (nextServer) h.nextServer = nextServer;
      }
    } else {
      note(l.source, `has no 3rc equivalent (tag ${tag} is set neither by a dhcp-host nor by a dhcp-match on the client architecture), left out`);
    }
  }
  return model;
}

/** dhcp-range=[tag:..][set:..]start[,end|static|proxy][,netmask[,broadcast]][,lease]. */
function range(l: Line, model: ImportModel, note: (s: Source, m?: string) => void): void {
  const t = tags(l.value);
  const [start, second, ...more] = t.rest;
  if (!start || !isIpv4(start)) return note(l.source, 'has no 3rc equivalent (3rc imports IPv4 ranges), left out');
  const mode = second && !isIpv4(second) ? second : undefined;
  if (mode && mode !== 'static') return note(l.source);
  const end = mode ? undefined : second;
  const rest = [...more];
  const netmask = rest[0] && isIpv4(rest[0]) ? rest.shift()! : undefined;
  if (rest[0] && isIpv4(rest[0])) rest.shift(); // broadcast
  const lease = rest[0] && LEASE.test(rest[0]) ? rest.shift()! : undefined;
  if (rest.length || t.tags.length || t.sets.length) note(l.source, 'has tags or fields 3rc has no equivalent for; the range itself is imported');
  let prefix = 24;
  if (netmask) {
    const p = prefixOfNetmask(netmask);
    if (p === null) return note(l.source, `has a netmask ${netmask} that is not one, left out`);
    prefix = p;
  } else {
    note(l.source, 'gives no netmask (dnsmasq takes it from the interface): imported as a /24, check network.subnets');
  }
  const ip = parseIpv4(start)!;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const n = (ip & mask) >>> 0;
  const cidr = `${[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')}/${prefix}`;
  let subnet = model.subnets.find((s) => s.cidr === cidr);
  if (!subnet) model.subnets.push((subnet = { cidr, pools: [], source: l.source }));
  if (end) subnet.pools.push({ start, end, source: l.source });
  const seconds = lease ? leaseSeconds(lease) : null;
  if (seconds !== null) subnet.leaseTime = seconds;
  else if (lease) note(l.source, `has lease time ${lease}, which 3rc has no equivalent for; the range itself is imported`);
}

/** dhcp-host=[hwaddr...][,id:..][,set:..][,ip][,name][,lease][,ignore]. */
function host(l: Line, note: (s: Source, m?: string) => void): { host: ImportedHost; sets: string[] } | null {
  const t = tags(l.value);
  const h: ImportedHost = { source: l.source };
  const macs: string[] = [];
  for (const p of t.rest) {
    if (p === 'ignore') return note(l.source, 'has no 3rc equivalent (3rc answers only the MACs it knows and its pools), left out'), null;
    if (p.startsWith('id:')) h.clientId = p.slice(3);
    else if (p.startsWith('[')) note(l.source, 'has an IPv6 address, which 3rc takes per host (hosts[].ipv6) and the import leaves out');
    else if (MAC_LIKE.test(p)) macs.push(p);
    else if (isIpv4(p)) h.ip = p;
    else if (LEASE.test(p)) note(l.source, `has lease time ${p}, which 3rc sets per subnet; the host itself is imported`);
    else if (p) h.name = p;
  }
  if (macs.length > 1) note(l.source, `names ${macs.length} MACs for one address; 3rc reserves one address per MAC: only ${macs[0]} is imported`);
  if (macs[0]) h.mac = macs[0];
  if (t.tags.length) note(l.source, 'matches tags, which 3rc has no equivalent for; the host is imported for every client with its MAC');
  return { host: h, sets: t.sets };
}

/** dhcp-option: router (3) and DNS servers (6) for everyone; anything else is a note. */
function option(l: Line, model: ImportModel, note: (s: Source, m?: string) => void): void {
  const t = tags(l.value);
  const [opt, ...vals] = t.rest;
  const code = opt === 'option:router' || opt === '3' ? 3 : opt === 'option:dns-server' || opt === '6' ? 6 : opt === 'option:domain-name' || opt === '15' ? 15 : null;
  if (code === null || t.tags.length || t.sets.length) return note(l.source);
  if (code === 15 && vals.length === 1) {
    model.domain = { value: vals[0]!, source: l.source };
  } else if (code === 3 && vals.length === 1 && isIpv4(vals[0]!)) {
    model.router = { value: vals[0]!, source: l.source };
  } else if (code === 6 && vals.length && vals.every((v) => isIpv4(v))) {
    model.nameServers = { value: vals, source: l.source };
  } else {
    // 0.0.0.0 ("this server") and empty values have no 3rc equivalent.
    note(l.source);
  }
}

/** An /etc/hosts-style file: `ADDRESS NAME [ALIASES...]`; IPv4 lines become names. */
function hostsFile(fs: InputFiles, path: string, from: Source, model: ImportModel): void {
  readInput(fs, path, from).split(/\r?\n/).forEach((raw, i) => {
    const text = raw.replace(/#.*/, '').trim();
    if (!text) return;
    const source = { file: path, line: i + 1, text: raw.trim() };
    const [ip, ...names] = text.split(/\s+/);
    if (!ip || !isIpv4(ip) || !names.length) return void model.notes.push({ source });
    for (const name of names) model.names.push({ name, ip, source });
  });
}
