/**
 * Rules that span several fields, checked after the schema: duplicates, addresses outside every
 * subnet, references to things that do not exist. Pure: config in, problems out.
 */
import { renderHostCommand } from '../lib/command-template.js';
import { cidrContains, formatIpv4, parseCidr, parseIpv4, type Cidr } from '../lib/net.js';
import { ipv6ToBigInt, parsePrefix6, prefixContains, prefixesOverlap } from '../lib/net6.js';
import type { RawConfig } from './schema.js';

export interface RuleProblem {
  path: (string | number)[];
  message: string;
}

/** Reports each value seen a second time, pointing at the later entry and naming the first. */
function duplicates<T>(items: T[], key: (t: T, i: number) => string, field: string, list: string, out: RuleProblem[], label = field): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item, i);
    const seen = first.get(k);
    if (seen === undefined) first.set(k, i);
    else out.push({ path: [list, i, field], message: `duplicate ${label} ${k}: already used by ${list}[${seen}]` });
  });
}

export function checkRules(cfg: Pick<RawConfig, 'network' | 'servers' | 'profiles' | 'hypervisors' | 'hosts'> & Partial<Pick<RawConfig, 'store' | 'ha'>>): RuleProblem[] {
  const out: RuleProblem[] = [];

  // Store: etcd settings go with kind etcd, and only with it.
  if (cfg.store) {
    const st = cfg.store;
    if (st.kind === 'etcd' && !st.etcd) out.push({ path: ['store', 'etcd'], message: 'store.kind etcd needs store.etcd with its endpoints (e.g. endpoints: [10.77.200.1:2379])' });
    if (st.kind !== 'etcd' && st.etcd) out.push({ path: ['store', 'etcd'], message: `store.etcd applies only to store.kind etcd, not ${st.kind}` });
    const tls = st.etcd?.tls;
    if (tls && (tls.cert === undefined) !== (tls.key === undefined)) out.push({ path: ['store', 'etcd', 'tls', tls.cert === undefined ? 'cert' : 'key'], message: 'a client certificate needs both cert and key' });
  }
  const subnets: { cidr: Cidr; index: number }[] = cfg.network.subnets.map((s, index) => ({ cidr: parseCidr(s.cidr)!, index }));
  const inSome = (ip: number) => subnets.some((s) => cidrContains(s.cidr, ip));
  const subnetList = subnets.map((s) => s.cidr.text).join(', ');

  // Subnets: no overlap, router and pool inside.
  subnets.forEach((a, i) => {
    for (const b of subnets.slice(0, i)) {
      if (cidrContains(a.cidr, b.cidr.network) || cidrContains(b.cidr, a.cidr.network)) {
        out.push({ path: ['network', 'subnets', i, 'cidr'], message: `subnet ${a.cidr.text} overlaps network.subnets[${b.index}] (${b.cidr.text})` });
      }
    }
    const s = cfg.network.subnets[i]!;
    if (s.router && !cidrContains(a.cidr, parseIpv4(s.router)!)) {
      out.push({ path: ['network', 'subnets', i, 'router'], message: `router ${s.router} is outside its subnet ${a.cidr.text}` });
    }
    if (s.pool) {
      const start = parseIpv4(s.pool.start)!;
      const end = parseIpv4(s.pool.end)!;
      for (const [field, ip] of [['start', start], ['end', end]] as const) {
        if (!cidrContains(a.cidr, ip)) out.push({ path: ['network', 'subnets', i, 'pool', field], message: `pool ${field} ${formatIpv4(ip)} is outside its subnet ${a.cidr.text}` });
      }
      if (start > end) out.push({ path: ['network', 'subnets', i, 'pool'], message: `pool start ${s.pool.start} is after its end ${s.pool.end}` });
    }
  });

  // IPv6 prefixes: no overlap, pool inside its prefix and in order.
  const v6 = cfg.network.ipv6;
  const prefixes = (v6?.prefixes ?? []).map((p) => parsePrefix6(p.prefix)!);
  const prefixList = prefixes.map((p) => p.text).join(', ') || 'none: network.ipv6 is not set';
  const inSomePrefix = (ip: string) => prefixes.some((p) => prefixContains(p, ipv6ToBigInt(ip)!));
  v6?.prefixes.forEach((p, i) => {
    const a = prefixes[i]!;
    prefixes.slice(0, i).forEach((b, j) => {
      if (prefixesOverlap(a, b)) out.push({ path: ['network', 'ipv6', 'prefixes', i, 'prefix'], message: `prefix ${a.text} overlaps network.ipv6.prefixes[${j}] (${b.text})` });
    });
    if (!p.pool) return;
    for (const field of ['start', 'end'] as const) {
      if (!prefixContains(a, ipv6ToBigInt(p.pool[field])!)) out.push({ path: ['network', 'ipv6', 'prefixes', i, 'pool', field], message: `pool ${field} ${p.pool[field]} is outside its prefix ${a.text}` });
    }
    if (ipv6ToBigInt(p.pool.start)! > ipv6ToBigInt(p.pool.end)!) out.push({ path: ['network', 'ipv6', 'prefixes', i, 'pool'], message: `pool start ${p.pool.start} is after its end ${p.pool.end}` });
  });
  if (v6 && !inSomePrefix(v6.serverIp)) out.push({ path: ['network', 'ipv6', 'serverIp'], message: `${v6.serverIp} is outside every IPv6 prefix (${prefixList})` });

  // Servers: two UDP servers on one address and port cannot both bind.
  const udp = (['dhcp', 'tftp', 'dns'] as const).filter((n) => cfg.servers[n].enabled);
  udp.forEach((n, i) => {
    for (const m of udp.slice(0, i)) {
      const a = cfg.servers[n];
      const b = cfg.servers[m];
      if (a.port === b.port && (a.listen === b.listen || a.listen === '0.0.0.0' || b.listen === '0.0.0.0')) {
        out.push({ path: ['servers', n, 'port'], message: `UDP port ${a.port} is already used by servers.${m}` });
      }
    }
  });
  if (cfg.servers.dns.enabled && cfg.servers.http.enabled && cfg.servers.dns.port === cfg.servers.http.port) {
    const a = cfg.servers.dns.listen;
    const b = cfg.servers.http.listen;
    if (a === b || a === '0.0.0.0' || b === '0.0.0.0') {
      out.push({ path: ['servers', 'http', 'port'], message: `TCP port ${cfg.servers.http.port} is already used by servers.dns (DNS over TCP)` });
    }
  }

  // Profiles.
  duplicates(cfg.profiles, (p) => p.name, 'name', 'profiles', out, 'profile name');
  cfg.profiles.forEach((p, i) => {
    if (p.installer !== 'image' && !p.template) {
      out.push({ path: ['profiles', i, 'template'], message: `a ${p.installer} profile needs a template (a file under paths.kickstarts)` });
    }
    if (p.installer === 'cloud-image' && !p.userData) {
      out.push({ path: ['profiles', i, 'userData'], message: 'a cloud-image profile needs a userData template (the #cloud-config its image\'s cloud-init fetches, under paths.kickstarts)' });
    }
  });

  // Hypervisors.
  duplicates(cfg.hypervisors, (h) => h.name, 'name', 'hypervisors', out, 'hypervisor name');
  duplicates(cfg.hypervisors, (h) => h.address, 'address', 'hypervisors', out, 'hypervisor address');
  cfg.hypervisors.forEach((h, i) => {
    if (h.driver === 'command' && !h.command) out.push({ path: ['hypervisors', i, 'command'], message: 'a hypervisor with driver command needs command templates (command.commands.list, state, start, stop, reset)' });
    if (h.driver !== 'command' && h.command) out.push({ path: ['hypervisors', i, 'command'], message: `command templates apply only to driver command, not ${h.driver}` });
  });

  // Hypervisors served as hosts (a MAC): a profile to install, an address DHCP can hand out, and
  // no host of the same name, MAC or address.
  cfg.hypervisors.forEach((h, i) => {
    if (h.mac !== undefined && h.profile === undefined) out.push({ path: ['hypervisors', i, 'profile'], message: 'a hypervisor with a MAC needs a profile (what `3rc boot --install` and `3rc hv reinstall` install)' });
    if (h.profile !== undefined && !cfg.profiles.some((p) => p.name === h.profile)) out.push({ path: ['hypervisors', i, 'profile'], message: `profile ${JSON.stringify(h.profile)} does not exist (profiles: ${cfg.profiles.map((p) => p.name).join(', ') || 'none defined'})` });
    if (h.mac === undefined) return;
    if (!inSome(parseIpv4(h.address)!)) out.push({ path: ['hypervisors', i, 'address'], message: `${h.address} is outside every subnet (${subnetList}): a hypervisor with a MAC gets its address by DHCP` });
    const clash = cfg.hosts.find((x) => x.name === h.name || x.mac === h.mac || x.ip === h.address);
    if (clash) out.push({ path: ['hypervisors', i, 'mac'], message: `host ${clash.name} has the same ${clash.name === h.name ? 'name' : clash.mac === h.mac ? 'MAC' : 'IP'}: a hypervisor with a MAC is served as a host of that name, MAC and address` });
  });
  duplicates(cfg.hypervisors, (h, i) => h.mac ?? `none:${i}`, 'mac', 'hypervisors', out, 'hypervisor MAC');

  // Hosts.
  duplicates(cfg.hosts, (h) => h.name, 'name', 'hosts', out, 'host name');
  duplicates(cfg.hosts, (h) => h.mac, 'mac', 'hosts', out, 'MAC');
  duplicates(cfg.hosts, (h) => h.ip, 'ip', 'hosts', out, 'IP');
  // A host without an IPv6 address gets a key of its own that is no address.
  duplicates(cfg.hosts, (h, i) => h.ipv6 ?? `none:${i}`, 'ipv6', 'hosts', out, 'IPv6 address');
  const profiles = new Set(cfg.profiles.map((p) => p.name));
  const hypervisors = new Set(cfg.hypervisors.map((h) => h.name));
  cfg.hosts.forEach((h, i) => {
    if (!inSome(parseIpv4(h.ip)!)) out.push({ path: ['hosts', i, 'ip'], message: `${h.ip} is outside every subnet (${subnetList})` });
    if (h.ipv6 !== undefined && !inSomePrefix(h.ipv6)) out.push({ path: ['hosts', i, 'ipv6'], message: `${h.ipv6} is outside every IPv6 prefix (network.ipv6.prefixes: ${prefixList})` });
    if (!profiles.has(h.profile)) {
      const known = [...profiles].join(', ') || 'none defined';
      out.push({ path: ['hosts', i, 'profile'], message: `profile ${JSON.stringify(h.profile)} does not exist (profiles: ${known})` });
    }
    if (h.hypervisor !== undefined && !hypervisors.has(h.hypervisor)) {
      const known = [...hypervisors].join(', ') || 'none defined';
      out.push({ path: ['hosts', i, 'hypervisor'], message: `hypervisor ${JSON.stringify(h.hypervisor)} does not exist (hypervisors: ${known})` });
    }
    // Power commands fill in now, as `3rc p2v` will: a bad template or a placeholder with no value
    // is a config error, not a failed migration later.
    for (const field of ['cycle', 'off'] as const) {
      const template = h.power?.[field];
      if (template === undefined) continue;
      try {
        renderHostCommand(template, h);
      } catch (err) {
        out.push({ path: ['hosts', i, 'power', field], message: `${(err as Error).message} (a power command's placeholders: {{host}}, {{ip}}, {{mac}} and the host's vars)` });
      }
    }
  });
  placementRules(cfg, hypervisors, out);
  return out;
}

/**
 * HA placement rules: `hosts` names hypervisors, `after` and the groups of ha.rules name VMs
 * (hosts with a hypervisor), and restart order has no cycle (it would wait forever), named in full.
 */
function placementRules(cfg: Pick<RawConfig, 'hosts'> & Partial<Pick<RawConfig, 'ha'>>, hypervisors: Set<string>, out: RuleProblem[]): void {
  const vms = new Set(cfg.hosts.filter((h) => h.hypervisor !== undefined).map((h) => h.name));
  const vmList = () => [...vms].join(', ') || 'none defined';
  cfg.hosts.forEach((h, i) => {
    h.hosts?.forEach((hv, j) => {
      if (!hypervisors.has(hv)) out.push({ path: ['hosts', i, 'hosts', j], message: `hypervisor ${JSON.stringify(hv)} does not exist (hypervisors: ${[...hypervisors].join(', ') || 'none defined'})` });
    });
    h.after?.forEach((dep, j) => {
      if (dep === h.name) out.push({ path: ['hosts', i, 'after', j], message: `expected other VMs, got ${h.name} itself` });
      else if (!vms.has(dep)) out.push({ path: ['hosts', i, 'after', j], message: `expected a VM (a host with a hypervisor), got ${JSON.stringify(dep)} (VMs: ${vmList()})` });
    });
  });
  cfg.ha?.rules.forEach((r, i) => {
    const field = r.antiAffinity ? 'antiAffinity' : 'affinity';
    (r.antiAffinity ?? r.affinity ?? []).forEach((vm, j) => {
      if (!vms.has(vm)) out.push({ path: ['ha', 'rules', i, field, j], message: `expected a VM (a host with a hypervisor), got ${JSON.stringify(vm)} (VMs: ${vmList()})` });
    });
  });
  const cycle = afterCycle(cfg.hosts.map((h) => ({ name: h.name, after: (h.after ?? []).filter((d) => d !== h.name) })));
  if (cycle) {
    const i = cfg.hosts.findIndex((h) => h.name === cycle[0]);
    out.push({ path: ['hosts', i, 'after'], message: `restart order cycle ${cycle.join(' -> ')}: expected after to name VMs that do not wait, directly or not, for ${cycle[0]}` });
  }
}

/** The first cycle of `after` edges, as [a, b, ..., a] (a in config order), or null. */
export function afterCycle(nodes: readonly { name: string; after: readonly string[] }[]): string[] | null {
  const edges = new Map(nodes.map((n) => [n.name, n.after]));
  const state = new Map<string, 1 | 2>(); // 1: on the path, 2: done
  for (const root of nodes) {
    if (state.has(root.name)) continue;
    const path: string[] = [root.name];
    const next: number[] = [0];
    state.set(root.name, 1);
    while (path.length > 0) {
      const at = path.at(-1)!;
      const deps = edges.get(at) ?? [];
      const k = next.at(-1)!;
      if (k >= deps.length) {
        state.set(at, 2);
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = k + 1;
      const d = deps[k]!;
      if (!edges.has(d)) continue;
      if (state.get(d) === 1) return [...path.slice(path.indexOf(d)), d];
      if (state.get(d) === 2) continue;
      state.set(d, 1);
      path.push(d);
      next.push(0);
    }
  }
  return null;
}
