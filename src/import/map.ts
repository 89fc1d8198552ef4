/**
 * The import model (model.ts) onto 3rc's config: network.subnets (router, name servers, pool,
 * lease time), hosts (name, mac, ip), servers.dhcp.bootFiles for boot files by architecture, and
 * profiles that carry a host's own boot file in their `loaders`. Whatever does not fit becomes a
 * note on the line it came from. Pure: model in, config data and notes out; the result is
 * validated by the CLI with 3rc's own config loader, never by a copy of its rules.
 */
import { archInfo, type LoaderSlot } from '../boot/client.js';
import { cidrContains, formatIpv4, isIpv4, normalizeMac, parseCidr, parseIpv4 } from '../lib/net.js';
import type { ImportModel, ImportedHost, Note, Source } from './model.js';

/** The slots a boot file given to every client fills (UEFI HTTP Boot takes URLs, not TFTP paths). */
const PXE_SLOTS: readonly LoaderSlot[] = ['bios', 'efiIa32', 'efiX64', 'efiArm32', 'efiArm64'];

/** The profile of hosts that keep the server's boot files. */
export const PLAIN_PROFILE = 'imported';

type Obj = Record<string, unknown>;

export interface Mapped {
  /** A config (network, servers.dhcp.bootFiles, profiles, hosts) as plain data, ready for YAML. */
  config: Obj;
  /** Every line that did not make it, and every guess, in input order. */
  notes: Note[];
  /** Things the operator should know that belong to no line (derived names, defaults). */
  remarks: string[];
}

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const BOOT_PATH_OK = (v: string) => v.length > 0 && !v.startsWith('/') && !v.split('/').includes('..') && !/[\\\s\x00-\x1f\x7f]/.test(v);

/** A MAC as 3rc keeps it; `01:aa:..` (hardware type 1, Ethernet, then the MAC) too. Null: not a 48-bit MAC. */
export function importMac(text: string): string | null {
  const plain = normalizeMac(text);
  if (plain) return plain;
  const parts = text.trim().split(/[:-]/);
  if (parts.length === 7 && /^0?1$/.test(parts[0]!)) return normalizeMac(parts.slice(1).map((p) => p.padStart(2, '0')).join(':'));
  if (parts.length === 6 && parts.every((p) => /^[0-9a-f]{1,2}$/i.test(p))) return normalizeMac(parts.map((p) => p.padStart(2, '0')).join(':'));
  return null;
}

/** A valid 3rc host name from a server's name: its first label, lower case, other characters as `-`. */
export function hostName(text: string): string | null {
  const label = text.split('.')[0]!.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return HOSTNAME.test(label) ? label : null;
}

/** A profile name for a boot file: `boot-pxelinux-0` for pxelinux.0. */
function profileName(file: string): string {
  return `boot-${hostName(file.replace(/[/.]/g, '-')) ?? 'file'}`.slice(0, 63).replace(/-+$/, '');
}

/** Maps an import model onto 3rc's config. */
export function mapToConfig(model: ImportModel): Mapped {
  const notes: Note[] = [...model.notes];
  const remarks: string[] = [];
  const note = (source: Source, message?: string) => notes.push(message ? { source, message } : { source });

  // Subnets.
  const subnets: Obj[] = [];
  const cidrs: { cidr: NonNullable<ReturnType<typeof parseCidr>>; data: Obj }[] = [];
  for (const s of model.subnets) {
    const cidr = parseCidr(s.cidr);
    if (!cidr) { note(s.source, `has subnet ${s.cidr}, which is not network/prefix, left out`); continue; }
    if (cidrs.some((c) => cidrContains(c.cidr, cidr.network) || cidrContains(cidr, c.cidr.network))) { note(s.source, `has subnet ${cidr.text}, which overlaps one already imported, left out`); continue; }
    const data: Obj = { cidr: cidr.text };
    const router = s.router ?? (model.router && cidrContains(cidr, parseIpv4(model.router.value)!) ? model.router.value : undefined);
    if (router) data.router = router;
    if (s.nameServers) data.nameServers = s.nameServers;
    const [pool, ...more] = s.pools.filter((p) => {
      const ok = cidrContains(cidr, parseIpv4(p.start)!) && cidrContains(cidr, parseIpv4(p.end)!) && parseIpv4(p.start)! <= parseIpv4(p.end)!;
      if (!ok) note(p.source, `has a range outside its subnet ${cidr.text} (or backwards), left out`);
      return ok;
    });
    if (pool) data.pool = { start: pool.start, end: pool.end };
    for (const p of more) note(p.source, `is a second range in ${cidr.text}; 3rc has one pool per subnet (${pool!.start}-${pool!.end}), left out`);
    if (s.leaseTime !== undefined && s.leaseTime !== model.leaseTime?.value) data.leaseTime = `${s.leaseTime}s`;
    subnets.push(data);
    cidrs.push({ cidr, data });
  }
  if (model.router && !cidrs.some((c) => cidrContains(c.cidr, parseIpv4(model.router!.value)!))) note(model.router.source, 'names a router outside every imported subnet, left out');
  const inSubnet = (ip: string) => cidrs.some((c) => cidrContains(c.cidr, parseIpv4(ip)!));

  // Boot files by architecture (servers.dhcp.bootFiles), and the next-servers seen.
  const nextServers: { value: string; source: Source }[] = [];
  if (model.nextServer) nextServers.push(model.nextServer);
  const bootFiles: Partial<Record<LoaderSlot, string>> = {};
  const slotSource = new Map<LoaderSlot, Source>();
  const bootFileOk = (file: string, source: Source) => {
    if (BOOT_PATH_OK(file)) return true;
    note(source, `has boot file ${JSON.stringify(file)}; 3rc serves files relative to paths.boot (no leading /, no .., no spaces, no URL), left out`);
    return false;
  };
  for (const r of [...model.bootRules].sort((a, b) => (a.arch === null ? 1 : 0) - (b.arch === null ? 1 : 0))) {
    if (!bootFileOk(r.file, r.source)) continue;
    if (r.nextServer) nextServers.push({ value: r.nextServer, source: r.source });
    const slots = r.arch === null ? PXE_SLOTS.filter((s) => !slotSource.has(s)) : [archInfo(r.arch)?.loader].filter((s): s is LoaderSlot => s !== undefined);
    if (r.arch !== null && !slots.length) { note(r.source, `gives a boot file to client architecture ${r.arch}, which 3rc does not know, left out`); continue; }
    const taken = r.arch !== null ? slotSource.get(slots[0]!) : undefined;
    if (taken) { note(r.source, `gives architecture ${r.arch} a second boot file; ${taken.file}:${taken.line} already did, left out`); continue; }
    for (const s of slots) { bootFiles[s] = r.file; slotSource.set(s, r.source); }
  }

  // Names for addresses (host-record, addn-hosts) name the reservation with that address.
  const nameOfIp = new Map<string, { name: string; source: Source; used: boolean }>();
  for (const n of model.names) if (!nameOfIp.has(n.ip)) nameOfIp.set(n.ip, { name: n.name, source: n.source, used: false });

  // Hosts.
  const hosts: Obj[] = [];
  const profiles = new Map<string, { file: string }>();
  const seen = { mac: new Map<string, Source>(), ip: new Map<string, Source>(), name: new Map<string, Source>() };
  const dup = (kind: keyof typeof seen, key: string, source: Source): boolean => {
    const first = seen[kind].get(key);
    if (first) note(source, `reserves ${kind === 'mac' ? 'MAC' : kind === 'ip' ? 'address' : 'name'} ${key} again (first at ${first.file}:${first.line}), left out`);
    return first !== undefined;
  };
  for (const h of model.hosts) {
    const mac = h.mac === undefined ? null : importMac(h.mac);
    if (!h.mac || !mac) {
      note(h.source, h.clientId !== undefined && !h.mac
        ? `reserves by client identifier (${h.clientId}); 3rc reserves by MAC only, left out`
        : h.mac ? `has ${h.mac}, which is not a 48-bit MAC (3rc reserves by exact MAC), left out` : 'reserves no MAC, left out');
      continue;
    }
    if (!h.ip || !isIpv4(h.ip)) { note(h.source, 'reserves no IPv4 address; 3rc hosts need one (hosts[].ip), left out'); continue; }
    if (!inSubnet(h.ip)) { note(h.source, `reserves ${h.ip}, outside every imported subnet, left out`); continue; }
    if (dup('mac', mac, h.source) || dup('ip', h.ip, h.source)) continue;
    const name = pickName(h, nameOfIp, remarks);
    if (dup('name', name, h.source)) continue;
    let profile = PLAIN_PROFILE;
    if (h.bootFile !== undefined && bootFileOk(h.bootFile, h.source) && !PXE_SLOTS.every((s) => bootFiles[s] === h.bootFile)) {
      profile = profileName(h.bootFile);
      profiles.set(profile, { file: h.bootFile });
    }
    if (h.nextServer) nextServers.push({ value: h.nextServer, source: h.source });
    seen.mac.set(mac, h.source);
    seen.ip.set(h.ip, h.source);
    seen.name.set(name, h.source);
    hosts.push({ name, mac, ip: h.ip, profile });
  }
  for (const n of nameOfIp.values()) if (!n.used) note(n.source, `names ${n.name}, an address no imported host reserves; 3rc's DNS publishes its hosts only, left out`);
  for (const n of model.names.filter((x) => nameOfIp.get(x.ip)?.source !== x.source)) note(n.source, `is a second name for ${n.ip}; 3rc publishes one per host, left out`);

  // network.serverIp: 3rc is the next-server; the import says where TFTP was.
  const serverIp = nextServers[0]?.value ?? (subnets[0]?.router as string | undefined) ?? (cidrs[0] ? formatIpv4(cidrs[0].cidr.network + 1) : '10.0.0.1');
  if (!nextServers.length) remarks.push(`network.serverIp: no next-server in the input; set to ${serverIp}: put 3rc's own address there`);
  for (const n of nextServers) if (n.value !== serverIp) note(n.source, `names next-server ${n.value}; 3rc hands out its own address (network.serverIp ${serverIp}) to everyone, left out`);
  const domain = model.domain?.value.toLowerCase().replace(/\.$/, '');
  if (!domain) remarks.push('network.domain: none in the input; set to "lan"');

  const network: Obj = { domain: domain || 'lan', serverIp };
  if (model.nameServers) network.nameServers = model.nameServers.value;
  if (model.leaseTime) network.leaseTime = `${model.leaseTime.value}s`;
  network.subnets = subnets;
  const config: Obj = { network };
  if (Object.keys(bootFiles).length) config.servers = { dhcp: { bootFiles } };
  // Every 3rc host names a profile (what it installs). Imported hosts boot as before (boot:
  // local); the profiles are placeholders whose kernel and initrd the operator sets before an install.
  const placeholder = (name: string): Obj => ({ name, installer: 'image', kernel: 'imported/vmlinuz', initrd: 'imported/initrd.img' });
  const used = new Set(hosts.map((h) => h.profile as string));
  config.profiles = [
    ...(used.has(PLAIN_PROFILE) ? [placeholder(PLAIN_PROFILE)] : []),
    ...[...profiles].map(([name, p]) => ({ ...placeholder(name), loaders: Object.fromEntries(PXE_SLOTS.map((s) => [s, p.file])) })),
  ];
  config.hosts = hosts;
  if (config.profiles && (config.profiles as Obj[]).length) {
    remarks.push(`profiles ${(config.profiles as Obj[]).map((p) => p.name).join(', ')}: placeholders (installer image, kernel imported/vmlinuz); the hosts boot as before (boot: local) until you set a real kernel and initrd and run 3rc boot HOST --install`);
  }
  notes.sort((a, b) => (a.source.file === b.source.file ? a.source.line - b.source.line : a.source.file < b.source.file ? -1 : 1));
  return { config, notes, remarks };
}

/** The host's name: its own when valid, else one made valid, else the name of its address, else host-A-B-C-D. */
function pickName(h: ImportedHost, nameOfIp: Map<string, { name: string; used: boolean }>, remarks: string[]): string {
  const byIp = nameOfIp.get(h.ip!);
  const given = h.name ?? byIp?.name;
  if (byIp && !h.name) byIp.used = true;
  if (byIp && h.name && hostName(h.name) === hostName(byIp.name)) byIp.used = true;
  const made = given === undefined ? null : hostName(given);
  if (made && made === given) return made;
  const name = made ?? `host-${h.ip!.replace(/\./g, '-')}`;
  remarks.push(`${h.source.file}:${h.source.line}: host ${h.ip} named ${name} (${given === undefined ? 'no name in the input' : `from ${JSON.stringify(given)}`})`);
  return name;
}
