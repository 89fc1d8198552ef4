/**
 * What a host's templates see: plain data only (no class instances, no functions), every key
 * present (templates are compiled strict, so a typo is an error, not an empty string).
 */
import type { Config } from '../config/load.js';
import type { Host, Profile } from '../inventory/inventory.js';
import { cidrContains, formatIpv4, parseCidr, parseIpv4 } from '../lib/net.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { installKernelArgs } from '../boot/kernel-args.js';
import { serverEndpoint } from '../boot/booter.js';
import type { AddressFamily } from '../boot/client.js';
import { bootFileUrl, installUrls, macPath } from '../boot/urls.js';
import { mergeVars, type Vars } from './vars.js';

export interface RenderContext {
  host: { name: string; fqdn: string; mac: string; ip: string; role: string | null; hypervisor: string | null };
  network: { domain: string; serverIp: string; cidr: string; netmask: string; prefix: number; gateway: string | null; nameServers: string[] };
  profile: { name: string; installer: string; kernel: string; initrd: string };
  /** `nocloudUrl`: the NoCloud seed (/ci/<mac>/), which a cloud-image installer hands to the installed system's cloud-init. */
  install: { token: string | null; kickstartUrl: string; doneUrl: string; failedUrl: string; nocloudUrl: string };
  urls: { base: string; kernel: string; initrd: string; ipxe: string };
  /** The HINFO role step (kickstarts/post-install/role.sh) and where it finds DNS and the roles. */
  postInstall: { roleScriptUrl: string; rolesUrl: string; dnsServer: string; dnsPort: number };
  kernelArgs: string;
  /** The capture script's (kickstarts/capture.sh.hbs) upload URL (no query) and what the host does after. */
  p2v: { url: string; physicalAfter: 'poweroff' | 'reboot' };
  vars: Vars;
}

export type ContextConfig = Pick<Config, 'network' | 'servers' | 'vars'> & { p2v?: Pick<Config['p2v'], 'physicalAfter'> };

/**
 * The context of a host's templates. `family` is how the host asked (the address family of the
 * request for its kickstart, preseed or iPXE script): one that asked over IPv6 is given 3rc's
 * IPv6 base URL and DNS server (network.ipv6, boot/booter.ts serverEndpoint) in every URL and in the
 * kernel arguments, since that is the address it reached 3rc at; `network` describes its IPv4
 * subnet whatever the family.
 */
export function buildContext(config: ContextConfig, host: Host, profile: Profile, entry: Pick<BootEntry, 'token'> | undefined, family: AddressFamily = 'ipv4'): RenderContext {
  const ip = parseIpv4(host.ip)!;
  const subnet = config.network.subnets.find((s) => cidrContains(parseCidr(s.cidr)!, ip))!;
  const cidr = parseCidr(subnet.cidr)!;
  const { base, serverIp: server } = serverEndpoint(config, family);
  const token = entry?.token ?? null;
  const urls = installUrls(base, host.mac, token);
  return {
    host: { name: host.name, fqdn: `${host.name}.${config.network.domain}`, mac: host.mac, ip: host.ip, role: host.role ?? null, hypervisor: host.hypervisor ?? null },
    network: {
      domain: config.network.domain,
      serverIp: config.network.serverIp,
      cidr: cidr.text,
      netmask: formatIpv4(cidr.mask),
      prefix: cidr.prefix,
      gateway: subnet.router ?? null,
      nameServers: subnet.nameServers ?? config.network.nameServers ?? [config.network.serverIp],
    },
    profile: { name: profile.name, installer: profile.installer, kernel: profile.kernel, initrd: profile.initrd },
    install: { token, kickstartUrl: urls.kickstart, doneUrl: urls.done, failedUrl: urls.failed, nocloudUrl: urls.nocloud },
    urls: { base, kernel: bootFileUrl(base, profile.kernel), initrd: bootFileUrl(base, profile.initrd), ipxe: urls.ipxe },
    postInstall: { roleScriptUrl: `${base}/files/post-install/role.sh`, rolesUrl: `${base}/files/roles`, dnsServer: server, dnsPort: config.servers.dns.port },
    kernelArgs: installKernelArgs({ profile, hostName: host.name, domain: config.network.domain, kickstartUrl: urls.kickstart, nocloudUrl: urls.nocloud }),
    p2v: { url: `${base}/p2v/${macPath(host.mac)}`, physicalAfter: config.p2v?.physicalAfter ?? 'poweroff' },
    vars: mergeVars(config.vars, profile.vars, host.vars),
  };
}
