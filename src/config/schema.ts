/**
 * The config file's schema, and every default, documented once, here.
 *
 * Field names are camelCase. Durations are a number of seconds or a string (`90s`, `3m`, `1h`)
 * and come out in milliseconds. Relative paths are resolved against the config file's folder.
 * Unknown fields are refused, so that a typo (`leaseTme`) is an error and not a silent default.
 */
import { z } from 'zod';
import { parseDuration } from '../lib/duration.js';
import { isIpv4, normalizeMac, parseCidr } from '../lib/net.js';
import { canonicalIpv6, parsePrefix6 } from '../lib/net6.js';
import { checkTemplateVars, ROLE_EXPECTED, ROLE_PATTERN } from './template-values.js';

const ipv4 = z.string().refine(isIpv4, { message: 'expected an IPv4 address like 10.77.0.1' });

/** An IPv6 address, kept in canonical form (so that duplicates are found whatever the spelling). */
const ipv6 = z
  .string()
  .refine((v) => canonicalIpv6(v) !== null, { message: 'expected an IPv6 address like fd77::10 (no zone id)' })
  .transform((v) => canonicalIpv6(v)!);

const ipv6Prefix = z
  .string()
  .refine((v) => parsePrefix6(v) !== null, { message: 'expected an IPv6 prefix like fd77::/64 (network address / prefix length)' })
  .transform((v) => parsePrefix6(v)!.text);

const mac = z
  .string()
  .refine((v) => normalizeMac(v) !== null, { message: 'expected a MAC address like 52:54:00:77:00:10' })
  .transform((v) => normalizeMac(v)!);

const cidr = z
  .string()
  .refine((v) => parseCidr(v) !== null, { message: 'expected a subnet like 10.77.0.0/24 (network address / prefix length)' })
  .transform((v) => parseCidr(v)!.text);

/** Milliseconds; accepts 180, "180s", "3m", "1h30m". */
const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 90, 90s, 3m or 1h, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ms;
});

/** A DNS label (host and hypervisor names). */
const hostname = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, { message: 'expected a host name: letters, digits and inner hyphens, at most 63 characters' })
  .transform((v) => v.toLowerCase());

const domain = z
  .string()
  .regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, { message: 'expected a DNS domain like lab.test' })
  .transform((v) => v.toLowerCase());

const port = z.number().int().min(1).max(65535);

/**
 * A file under paths.boot, as a loader's name in DHCP (file field, option 67) and in a URL:
 * relative, no `..` segment, no backslash, no space or control character.
 */
const bootPath = z
  .string()
  .min(1)
  .refine((v) => !v.startsWith('/') && !v.split('/').includes('..') && !/[\\\s\x00-\x1f\x7f]/.test(v), {
    message: 'expected a path relative to paths.boot, like syslinux.efi or efi/shimx64.efi (no leading /, no .., no spaces)',
  });

/**
 * First-stage loaders by slot (servers.dhcp.bootFiles; the architecture -> slot table is in
 * src/boot/client.ts), with the server's defaults from Debian's packages.
 */
const bootFileSlots = {
  /** BIOS (arch 0). Default: pxelinux.0 (Debian pxelinux). */
  bios: bootPath.default('pxelinux.0'),
  /** x64 UEFI PXE (arch 7 and 9). Default: syslinux.efi (Debian syslinux-efi). */
  efiX64: bootPath.default('syslinux.efi'),
  /** x86 (ia32) UEFI PXE (arch 6). Default: none. */
  efiIa32: bootPath.optional(),
  /** ARM32 UEFI PXE (arch 10). Default: none. */
  efiArm32: bootPath.optional(),
  /** ARM64 UEFI PXE (arch 11). Default: grubaa64.efi (Debian debian-installer-12-netboot-arm64's signed netboot GRUB). */
  efiArm64: bootPath.default('grubaa64.efi'),
  /** x64 UEFI HTTP Boot (arch 16). Default: ipxe.efi (Debian ipxe). */
  httpX64: bootPath.default('ipxe.efi'),
  /** ARM64 UEFI HTTP Boot (arch 19). Default: grubaa64.efi, as efiArm64. */
  httpArm64: bootPath.default('grubaa64.efi'),
  /** ARM32 UEFI HTTP Boot (arch 18). Default: none. */
  httpArm32: bootPath.optional(),
  /** x86 (ia32) UEFI HTTP Boot (arch 15). Default: none. */
  httpIa32: bootPath.optional(),
};

/** A profile's own loaders: the same slots, none set by default (the server's apply). */
const profileLoaderSlots = Object.fromEntries(Object.keys(bootFileSlots).map((slot) => [slot, bootPath.optional()])) as {
  [K in keyof typeof bootFileSlots]: z.ZodOptional<typeof bootPath>;
};

/** An etcd client URL: host:port, or http(s)://host:port. */
const etcdEndpoint = z
  .string()
  .regex(/^(https?:\/\/)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/, { message: 'expected an etcd endpoint like 10.77.200.1:2379 or https://etcd1:2379' })
  .refine((v) => { const p = Number(v.slice(v.lastIndexOf(':') + 1)); return p >= 1 && p <= 65535; }, { message: 'expected a port from 1 to 65535 in the etcd endpoint' });

/**
 * Free-form per-host/profile/global template variables (plain data only). No string in them holds
 * a control character, and `sshKeys` is a list of public keys (src/config/template-values.ts).
 */
const vars = z.record(z.string(), z.unknown()).superRefine(checkTemplateVars).default({});

/** Fields every protocol server has: on/off, address and port. */
function serverBase(defaultPort: number) {
  return {
    /** Serve this protocol at all. Default: true. */
    enabled: z.boolean().default(true),
    /** Address to bind. Default: 0.0.0.0 (every interface). */
    listen: ipv4.default('0.0.0.0'),
    /** Port to bind. Defaults: DHCP 67, TFTP 69, HTTP 80, DNS 53. */
    port: port.default(defaultPort),
  };
}

const dhcpServer = z
  .strictObject({
    ...serverBase(67),
    /**
     * server: hand out addresses (reservations, and the subnet pools when configured).
     * proxy: hand out no address, only PXE boot information (ProxyDHCP, with port 4011), beside
     * the site's own DHCP server. Default: server.
     */
    mode: z.enum(['server', 'proxy']).default('server'),
    /** PXE boot-server port answered in proxy mode. Default: 4011. */
    proxyPort: port.default(4011),
    /** How long an offered address is held for the client that was offered it. Default: 30s. */
    offerHold: duration.prefault(30),
    /** How long an address a client DECLINEd stays out of use. Default: 10m. */
    declineHold: duration.prefault(600),
    /** DHCP packets per second accepted from one MAC before the rest are dropped. Default: 20. */
    ratePerMac: z.number().int().positive().default(20),
    /**
     * Give iPXE clients (qemu's and most virtual NICs' boot ROMs, or iPXE chained from another
     * loader) their per-MAC iPXE script over HTTP: kernel and initrd then come over HTTP too.
     * false: treat them like any PXE firmware (bootFiles over TFTP). Default: true.
     */
    ipxeScript: z.boolean().default(true),
    /**
     * First-stage loaders by client architecture (option 93; the table is in src/boot/client.ts),
     * relative to paths.boot. PXE slots are fetched over TFTP; HTTP slots (UEFI HTTP Boot) are
     * handed out as http://<publicUrl>/boot/files/<path>. A slot left unset gives its
     * architectures no boot file (the trace says which key to set). A profile's `loaders`
     * override these for its hosts.
     */
    bootFiles: z
      .strictObject(bootFileSlots)
      .prefault({}),
  })
  .prefault({});

/** DHCPv6 (RFC 8415), served when network.ipv6 is set. */
const dhcp6Server = z
  .strictObject({
    /** Serve DHCPv6 when network.ipv6 is configured. Default: true. */
    enabled: z.boolean().default(true),
    /** Address to bind. Default: :: (every interface; All_DHCP_Relay_Agents_and_Servers ff02::1:2 is joined on each). */
    listen: ipv6.default('::'),
    /** Port to bind. Default: 547. */
    port: port.default(547),
    /**
     * Answer a Solicit that carries Rapid Commit (option 14) with a Reply at once (RFC 8415
     * section 18.3.1), two messages instead of four. Default: true.
     */
    rapidCommit: z.boolean().default(true),
    /** DHCPv6 messages per second accepted from one client (DUID) before the rest are dropped. Default: 20. */
    ratePerClient: z.number().int().positive().default(20),
  })
  .prefault({});

const tftpServer = z
  .strictObject({
    ...serverBase(69),
    /** IPv6 address to serve on as well (`::`: every interface). Default: `::` when network.ipv6 is set, else none. */
    listen6: ipv6.optional(),
    /** Largest blksize granted (RFC 2348); 1468 fits a 1500-byte MTU. Default: 1468. */
    maxBlksize: z.number().int().min(8).max(65464).default(1468),
    /** Largest windowsize granted (RFC 7440). Default: 64. */
    maxWindowsize: z.number().int().min(1).max(65535).default(64),
    /** Retransmission timeout before back-off, unless the client asks (RFC 2349). At least 100ms. Default: 1s. */
    timeout: duration.refine((ms) => ms >= 100, { message: 'expected a duration of at least 100ms, got less' }).prefault(1),
    /** Retransmissions of one block before the transfer is abandoned. Default: 5. */
    retries: z.number().int().min(0).max(50).default(5),
    /** Concurrent transfers; requests beyond it get an error, not a crash. Default: 512. */
    maxTransfers: z.number().int().positive().default(512),
    /**
     * Concurrent transfers from one client address, well below maxTransfers so that one host
     * cannot take every slot (a PXE client fetches one file at a time). When every slot is taken,
     * the address holding the most gives up its oldest transfer to a newcomer. Default: 8.
     */
    maxTransfersPerClient: z.number().int().positive().default(8),
    /**
     * Longest a transfer may last, however it progresses and whatever timeout the client asked
     * for (RFC 2349 allows 255 s, which with back-off kept an abandoned transfer for over an
     * hour). Raise it to serve very large files over slow links. At least 1s. Default: 10m.
     */
    maxTransferTime: duration.refine((ms) => ms >= 1000, { message: 'expected a duration of at least 1s, got less' }).prefault(600),

    /** Memory for caching boot files (kernels, initrds, loaders), in MiB. Default: 256. */
    cacheMb: z.number().int().min(0).default(256),
    /**
     * Worker threads that run the transfers (each owns its transfers' ports), so that TFTP uses
     * more than one core; the main thread still checks every request. 0: transfers run in the
     * main thread. Default: 2, or 0 on a one-core machine.
     */
    workers: z.number().int().min(0).max(64).optional(),
    /**
     * Files of at least this size, in KiB, are sent by the workers; smaller ones (loaders, menus,
     * configs) from the main thread, where a transfer starts without a hop between threads (the
     * hop cost more than the second core gave on short files: issue 26). Default: 512.
     */
    workerMinKb: z.number().int().min(0).default(512),
  })
  .prefault({});

const httpServer = z
  .strictObject({
    ...serverBase(80),
    /** IPv6 address to serve on as well (`::`: every interface). Default: `::` when network.ipv6 is set, else none. */
    listen6: ipv6.optional(),
    /** URL at which hosts reach this server (iPXE scripts, kickstarts, callbacks). Default: http://network.serverIp[:port]. */
    publicUrl: z.string().url().optional(),
    /** Open connections at most; more are closed at once. Default: 1024. */
    maxConnections: z.number().int().positive().default(1024),
    /** Dashboards connected to the live stream (SSE) at most; more get 503. Default: 64. */
    maxSseClients: z.number().int().positive().default(64),
    /** Time for a client to send a request's headers. Default: 10s. */
    headersTimeout: duration.prefault(10),
    /** Time for a whole request, body included (a P2V chunk of p2v.chunkMb must fit in it). Default: 60s. */
    requestTimeout: duration.prefault(60),
  })
  .prefault({});

const dnsServer = z
  .strictObject({
    ...serverBase(53),
    /** IPv6 address to serve on as well (`::`: every interface). Default: `::` when network.ipv6 is set, else none. */
    listen6: ipv6.optional(),
    /** TTL of the zone's records. Default: 5m. */
    ttl: duration.prefault(300),
    /** Resolvers asked for names outside the zone, for clients in the managed subnets only. Default: none (REFUSED). */
    forwarders: z.array(ipv4).default([]),
    /** Idle time before a DNS-over-TCP connection is closed. Default: 10s. */
    tcpIdleTimeout: duration.prefault(10),
    /** Concurrent DNS-over-TCP connections. Default: 256. */
    maxTcpConnections: z.number().int().positive().default(256),
  })
  .prefault({});

/** A lifetime in an advertisement: whole seconds, up to 2^32-2 s (2^32-1 means infinite). */
const raLifetime = duration.refine((ms) => ms % 1000 === 0 && ms / 1000 < 0xffffffff, { message: 'expected whole seconds, less than 136 years' });

/** One prefix information option (RFC 4861 section 4.6.2). */
const raPrefix = z
  .strictObject({
    /** The prefix; hosts form SLAAC addresses in it when autonomous and /64. */
    prefix: ipv6Prefix,
    /** L flag: the prefix is on this link. Default: true. */
    onLink: z.boolean().default(true),
    /** A flag: hosts may form addresses in it (SLAAC). Default: true. */
    autonomous: z.boolean().default(true),
    /** Default: 1d. */
    validLifetime: raLifetime.prefault('1d'),
    /** At most validLifetime. Default: 4h. */
    preferredLifetime: raLifetime.prefault('4h'),
  })
  .refine((p) => p.preferredLifetime <= p.validLifetime, { message: 'expected preferredLifetime not longer than validLifetime' });

/** What an advertisement says; servers.ra sets it for every interface, an interface entry overrides it. */
const raAdvertisement = {
  /**
   * Router lifetime: 0 says "no IPv6 router here" (hosts add no default route through 3rc, and
   * firmware such as iPXE stops waiting for one); else 3rc is a default router for this long,
   * between maxInterval and 9000s (RFC 4861 section 6.2.1). Default: 0.
   */
  routerLifetime: raLifetime,
  /** M flag: addresses come from DHCPv6. Default: false. */
  managed: z.boolean(),
  /** O flag: other configuration (DNS servers...) comes from DHCPv6. Default: false. */
  otherConfig: z.boolean(),
  /** Prefix information options. Default: none (no SLAAC address). */
  prefixes: z.array(raPrefix),
  /** MTU option, 1280 to 65535. Default: none. */
  mtu: z.number().int().min(1280).max(65535),
  /** RDNSS option (RFC 8106): IPv6 name servers. Default: none. */
  dnsServers: z.array(ipv6).max(127),
};

const raInterface = z.strictObject({
  /** Interface name, e.g. eth0. */
  name: z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/, { message: 'expected a network interface name like eth0' }),
  routerLifetime: raAdvertisement.routerLifetime.optional(),
  managed: raAdvertisement.managed.optional(),
  otherConfig: raAdvertisement.otherConfig.optional(),
  prefixes: raAdvertisement.prefixes.optional(),
  mtu: raAdvertisement.mtu.optional(),
  dnsServers: raAdvertisement.dnsServers.optional(),
});

/**
 * IPv6 router advertisements (src/ra), sent through a small python3 helper that holds the raw
 * ICMPv6 socket. The default advertisement says "no IPv6 router here" (router lifetime 0, no
 * prefix, no flags): on an IPv4-only network, iPXE then stops waiting 13-16 s for an IPv6 router
 * before it boots. Turn it off on a network whose own IPv6 routers must be the only ones heard.
 */
const raServer = z
  .strictObject({
    /** Send router advertisements and answer router solicitations. Default: true. */
    enabled: z.boolean().default(true),
    /**
     * Interfaces to advertise on, each with optional overrides of the fields below. Default:
     * every interface holding an IPv4 address inside one of network.subnets (the served ones).
     */
    interfaces: z.array(raInterface).optional(),
    /** MaxRtrAdvInterval: unsolicited advertisements at most this far apart, 4s to 1800s. Default: 10m. */
    maxInterval: duration.refine((ms) => ms >= 4000 && ms <= 1_800_000, { message: 'expected a duration from 4s to 30m' }).prefault(600),
    /** MinRtrAdvInterval: at least 3s and at most 0.75 x maxInterval. Default: maxInterval / 3. */
    minInterval: duration.optional(),
    routerLifetime: raAdvertisement.routerLifetime.prefault(0),
    managed: raAdvertisement.managed.default(false),
    otherConfig: raAdvertisement.otherConfig.default(false),
    prefixes: raAdvertisement.prefixes.default([]),
    mtu: raAdvertisement.mtu.optional(),
    dnsServers: raAdvertisement.dnsServers.default([]),
  })
  .superRefine((ra, ctx) => {
    const max = ra.maxInterval;
    if (ra.minInterval !== undefined && (ra.minInterval < 3000 || ra.minInterval > 0.75 * max)) {
      ctx.addIssue({ code: 'custom', path: ['minInterval'], message: 'expected a duration from 3s to 0.75 x maxInterval (RFC 4861 section 6.2.1)' });
    }
    const lifetimes: Array<[number | undefined, (string | number)[]]> = [[ra.routerLifetime, ['routerLifetime']], ...(ra.interfaces ?? []).map((i, n): [number | undefined, (string | number)[]] => [i.routerLifetime, ['interfaces', n, 'routerLifetime']])];
    for (const [ms, path] of lifetimes) {
      if (ms !== undefined && ms !== 0 && (ms < max || ms > 9_000_000)) ctx.addIssue({ code: 'custom', path, message: 'expected 0 (no router) or from maxInterval to 9000s (RFC 4861 section 6.2.1)' });
    }
  })
  .prefault({});

const subnet = z.strictObject({
  /** The subnet, e.g. 10.77.0.0/24. */
  cidr,
  /** Default gateway handed out by DHCP (option 3). Default: none. */
  router: ipv4.optional(),
  /** Name servers handed out by DHCP (option 6). Default: network.nameServers. */
  nameServers: z.array(ipv4).optional(),
  /** Optional dynamic pool; without one, only reserved hosts get addresses. */
  pool: z.strictObject({ start: ipv4, end: ipv4 }).optional(),
  /** Lease time for this subnet. Default: network.leaseTime. */
  leaseTime: duration.optional(),
});

/** One IPv6 prefix 3rc serves (DHCPv6 addresses of reservations and an optional pool). */
const prefix6 = z.strictObject({
  /** The on-link prefix, e.g. fd77::/64. */
  prefix: ipv6Prefix,
  /** Optional dynamic pool; without one, only hosts with hosts[].ipv6 get addresses. */
  pool: z.strictObject({ start: ipv6, end: ipv6 }).optional(),
});

/** IPv6 on the managed network (DHCPv6). */
const network6 = z.strictObject({
  /** Address at which hosts reach 3rc over IPv6 (boot file URLs, name server). */
  serverIp: ipv6,
  /** Name servers handed out by DHCPv6 (option 23). Default: [serverIp]. */
  nameServers: z.array(ipv6).optional(),
  /** Valid lifetime of DHCPv6 addresses (preferred: the same; T1 0.5, T2 0.8 of it). Default: network.leaseTime. */
  leaseTime: duration.optional(),
  prefixes: z.array(prefix6).min(1, { message: 'expected at least one prefix' }),
});

const profile = z.strictObject({
  name: hostname,
  /**
   * What installs the host: a kickstart (Red Hat family), a preseed (Debian family), a disk image,
   * Ubuntu's autoinstall (subiquity; `template` is its `#cloud-config` user-data, fetched through
   * the NoCloud datasource at /ci/<mac>/), or a cloud image (written like an image; on first boot
   * its own cloud-init fetches /ci/<mac>/, whose user-data is the `userData` template).
   */
  installer: z.enum(['kickstart', 'preseed', 'image', 'autoinstall', 'cloud-image']),
  /** Kernel and initrd, relative to paths.boot. */
  kernel: z.string().min(1),
  initrd: z.string().min(1),
  /** Extra kernel arguments, on one line. Default: none. */
  kernelArgs: z.string().regex(/^[^\x00-\x1f\x7f]*$/, { message: 'expected kernel arguments on one line, without control characters' }).default(''),
  /** Template under paths.kickstarts; required for kickstart, preseed, autoinstall and cloud-image. */
  template: z.string().min(1).optional(),
  /**
   * The NoCloud user-data template (a `#cloud-config` under paths.kickstarts) served at
   * /ci/<mac>/user-data; required for cloud-image. Default: `template` for autoinstall, else none
   * (no NoCloud data).
   */
  userData: z.string().min(1).optional(),
  /**
   * First-stage loaders for this profile's hosts, by slot (the keys of servers.dhcp.bootFiles),
   * relative to paths.boot; a slot not named here is the server's. Used for a host whose boot
   * entry names this profile (else whose host entry does). Default: none (the server's).
   */
  loaders: z.strictObject(profileLoaderSlots).optional(),
  /**
   * Which config the loader reads: pxelinux (pxelinux.cfg/01-<mac>, for pxelinux.0 and
   * syslinux.efi), grub (grub.cfg-01-<mac>, for GRUB and the Secure Boot chain shim -> GRUB) or
   * ipxe (the iPXE script over HTTP). Default: pxelinux.
   */
  chain: z.enum(['pxelinux', 'grub', 'ipxe']).optional(),
  vars,
});

/** A machine's BMC (hosts[].bmc, hypervisors[].bmc): IPMI over LAN or Redfish. */
const bmc = z.strictObject({
  driver: z.enum(['ipmi', 'redfish']),
  /** host or host:port (IPMI default port 623, Redfish 443); Redfish also takes https://host:port. */
  address: z.string().min(1),
  user: z.string().min(1),
  /** File holding the password (mode 0600). */
  passwordFile: z.string().min(1),
  /** Redfish: the CA that signed the BMC's certificate (pinned). Default: the system's CAs. TLS is always verified. */
  caFile: z.string().min(1).optional(),
  /**
   * IPMI: the RMCP+ cipher suite (ipmitool -C), e.g. 3 or 17. Default: none given, ipmitool asks
   * the BMC for its suites (some BMCs do not answer that, which costs seconds per call).
   */
  cipherSuite: z.number().int().min(0).max(17).optional(),
});

const host = z.strictObject({
  name: hostname,
  mac,
  ip: ipv4,
  /** IPv6 address published as AAAA. Default: none. */
  ipv6: ipv6.optional(),
  profile: hostname,
  /**
   * Role published in the host's DNS HINFO record (e.g. middleware, services), the folder of its
   * role script: a plain name (^[a-z0-9][a-z0-9_-]{0,62}$). Default: none.
   */
  role: z.string().regex(ROLE_PATTERN, { message: ROLE_EXPECTED }).optional(),
  /** HINFO strings, when the role/profile defaults are not wanted. */
  hinfo: z.strictObject({ cpu: z.string().max(255), os: z.string().max(255) }).optional(),
  /** Hypervisor that runs this host when it is a VM. Default: none (a physical host). */
  hypervisor: hostname.optional(),
  /** May the HA controller reinstall this VM automatically? Default: true. */
  reinstall: z.boolean().default(true),
  /** VMs with a higher priority restart first when capacity is short. Default: 0. */
  priority: z.number().int().default(0),
  /** What a VM needs from its hypervisor, for placement. Defaults: 1 CPU, 1024 MiB. */
  cpus: z.number().int().positive().default(1),
  memoryMb: z.number().int().positive().default(1024),
  /** Hypervisors this VM may run on (node affinity). Default: any. */
  hosts: z.array(hostname).min(1, { message: 'expected at least one hypervisor name' }).optional(),
  /** hosts is a requirement (true) or a preference (false). Default: true. */
  hostsRequired: z.boolean().optional(),
  /** VMs that must answer (or be quarantined) before this one is restarted (ha.restartOrder). Default: none. */
  after: z.array(hostname).optional(),
  /** Boot entry used only when the store has none yet for this MAC. Default: local. */
  boot: z.enum(['local', 'install']).default('local'),
  /**
   * May a drain (`3rc hv drain`, `hv roll`, `hv reinstall`) move this VM cold, stopped on its
   * hypervisor and started on another, when it cannot move live (no live migration there, or one
   * that failed and left it where it was)? false: the drain stops at this VM instead, for VMs
   * whose downtime must be planned. Default: true.
   */
  coldMove: z.boolean().optional(),
  /**
   * Power control of a physical host (for `3rc p2v`), run on the 3rc host with {{host}}, {{ip}},
   * {{mac}} and the host's scalar vars as placeholders, e.g. `ipmitool -H {{bmc}} ... chassis
   * power cycle`. Without it, `3rc p2v` asks the operator to reboot the host.
   */
  power: z
    .strictObject({
      /** Power-cycles (or resets) the host so that it network-boots. */
      cycle: z.string().min(1),
      /** Powers it off; run after a capture when p2v.physicalAfter is poweroff. Default: none. */
      off: z.string().min(1).optional(),
      /** Default: 30s. */
      timeout: duration.prefault(30),
    })
    .optional(),
  /**
   * Its BMC (as hypervisors[].bmc; config file only, never through the API): `3rc boot HOST
   * --install` sets a one-time PXE boot through it and power-cycles the host. Default: none.
   */
  bmc: bmc.optional(),
  vars,
});

const hypervisor = z.strictObject({
  name: hostname,
  /** Address 3rc uses to reach it (SSH, probes); also its A and PTR records, and its DHCP address when it has a MAC. */
  address: ipv4,
  /**
   * A hypervisor is a host too: with a MAC and a profile, DHCP, TFTP and HTTP serve it like any
   * host (`3rc boot NAME --install`, `3rc hv reinstall NAME`). Default: none (only DNS names it).
   */
  mac: mac.optional(),
  /** IPv6 address published as AAAA. Default: none. */
  ipv6: ipv6.optional(),
  /** What it installs (a profile name); required with `mac`. Default: none. */
  profile: hostname.optional(),
  /** Role in its DNS HINFO record and the folder of its role script, as for hosts. Default: none. */
  role: z.string().regex(ROLE_PATTERN, { message: ROLE_EXPECTED }).optional(),
  /** HINFO strings, when the role/profile defaults are not wanted. */
  hinfo: z.strictObject({ cpu: z.string().max(255), os: z.string().max(255) }).optional(),
  /** Boot entry used only when the store has none yet for its MAC. Default: local. */
  boot: z.enum(['local', 'install']).default('local'),
  /** Template variables of its install, as for hosts. */
  vars,
  /** How 3rc drives it. Default: libvirt (virsh over SSH). */
  driver: z.enum(['libvirt', 'command', 'sim']).default('libvirt'),
  ssh: z
    .strictObject({
      /** Default: root. */
      user: z.string().min(1).default('root'),
      /** Default: 22. */
      port: port.default(22),
      /** Private key file. Default: none (the agent or ~/.ssh defaults are not used implicitly). */
      key: z.string().optional(),
      /** known_hosts file checked for the host key. Default: none (then SSH actions are refused). */
      knownHosts: z.string().optional(),
    })
    .prefault({}),
  /** 5-minute load average above which no VM is placed here. Default: 4. */
  loadThreshold: z.number().positive().default(4),
  /** In maintenance: no VM is placed here. Default: false. */
  maintenance: z.boolean().default(false),
  /** Failure domain label: hypervisors of one rack fail together in admission control (ha.admission.domain rack). Default: none. */
  rack: z.string().regex(/^[A-Za-z0-9_.-]{1,63}$/, { message: 'expected a rack label: letters, digits, ., _ and -, at most 63 characters' }).optional(),
  /**
   * Its BMC: power, one-time network boot and health through IPMI (ipmitool -I lanplus) or
   * Redfish (HTTPS). A hypervisor with a BMC is fenced through it (power off, read back off) even
   * when `fence` commands are set too. The password comes from `passwordFile` (its first line),
   * never from the config; a file that others can read is used with a warning. Default: none.
   */
  bmc: bmc.optional(),
  /**
   * driver: libvirt only: extra flags of `virsh migrate --live` when a drain moves VMs off this
   * host, e.g. [--unsafe] when the disks use a cache mode libvirt deems unsafe to migrate.
   */
  migrateFlags: z.array(z.string().regex(/^--[a-z][a-z-]{1,40}$/, 'a long option without value, e.g. --unsafe')).default([]),
  /**
   * Out-of-band fence, run on the 3rc host: `off` powers the hypervisor off (e.g. ipmitool ...
   * chassis power off), `status` reads the power back; the host counts as off only when that
   * output matches `offPattern` (default \boff\b). Placeholders: {{hypervisor}}, {{address}},
   * and `vars`. Without it, only the hypervisor itself can prove a VM off.
   */
  fence: z
    .strictObject({
      off: z.string().min(1),
      status: z.string().min(1),
      offPattern: z.string().optional(),
      vars: z.record(z.string(), z.string()).default({}),
      /** Default: 20s. */
      timeout: duration.prefault(20),
    })
    .optional(),
  /**
   * driver: command only (required then): command templates run over SSH on the hypervisor, with
   * {{vm}}, {{hypervisor}}, {{address}} and the VM's vars as placeholders (each substituted as one
   * shell word), e.g. `qm start {{vmid}}`. Patterns are case-insensitive regular expressions that
   * read the tool's output; unset ones cover virsh, qm, vim-cmd, xl and VBoxManage wording.
   */
  command: z
    .strictObject({
      commands: z.strictObject({
        list: z.string().min(1),
        state: z.string().min(1),
        start: z.string().min(1),
        stop: z.string().min(1),
        reset: z.string().min(1),
        shutdown: z.string().min(1).optional(),
        ping: z.string().min(1).optional(),
        migrate: z.string().min(1).optional(),
      }),
      listPattern: z.string().optional(),
      statePattern: z.string().optional(),
      running: z.string().optional(),
      off: z.string().optional(),
      noSuchVm: z.string().optional(),
      alreadyRunning: z.string().optional(),
      notRunning: z.string().optional(),
    })
    .optional(),
  /** What it can hold; unset fields are not checked. */
  capacity: z
    .strictObject({
      cpus: z.number().int().positive().optional(),
      memoryMb: z.number().int().positive().optional(),
      vms: z.number().int().positive().optional(),
    })
    .prefault({}),
});

export const configSchema = z.strictObject({
  network: z.strictObject({
    /** DNS domain of the managed hosts, e.g. lab.test. */
    domain,
    /** Address at which hosts reach 3rc (next-server, HTTP and DNS in replies). */
    serverIp: ipv4,
    /** Name servers handed out by DHCP when a subnet names none. Default: [serverIp]. */
    nameServers: z.array(ipv4).optional(),
    /** Default DHCP lease time. Default: 1h. */
    leaseTime: duration.prefault(3600),
    subnets: z.array(subnet).min(1, { message: 'expected at least one subnet' }),
    /** IPv6 prefixes served by DHCPv6, and 3rc's IPv6 address. Default: none (no DHCPv6). */
    ipv6: network6.optional(),
  }),
  servers: z
    .strictObject({
      dhcp: dhcpServer,
      dhcp6: dhcp6Server,
      tftp: tftpServer,
      http: httpServer,
      dns: dnsServer,
      ra: raServer,
    })
    .prefault({}),
  paths: z
    .strictObject({
      /** Boot files served over TFTP and HTTP. Default: boot/ of the 3rc installation. */
      boot: z.string().optional(),
      /** pxelinux/iPXE templates and partials. Default: templates/ of the 3rc installation. */
      templates: z.string().optional(),
      /** Profile templates (kickstart, preseed). Default: kickstarts/ of the 3rc installation. */
      kickstarts: z.string().optional(),
    })
    .prefault({}),
  api: z
    .strictObject({
      /**
       * File holding the bearer token that every state-changing API call needs. The environment
       * variable THREERC_API_TOKEN wins over it. Default: api-token beside the store; created
       * (mode 0600, random) by the first `3rc serve` when missing.
       */
      tokenFile: z.string().optional(),
    })
    .prefault({}),
  install: z
    .strictObject({
      /** An install that has not called back (done or failed) after this long is expired. Default: 2h. */
      timeout: duration.prefault(7200),
      /**
       * A host that fetched its first-stage loader and asked for nothing else for this long is
       * reported stuck after its loader (boot/loader-watch.ts: `3rc status`, the host page, the
       * API). Default: 60s.
       */
      loaderQuiet: duration.prefault(60),
    })
    .prefault({}),
  /** Template variables shared by every host (profile and host vars override them). */
  vars,
  profiles: z.array(profile).default([]),
  hosts: z.array(host).default([]),
  hypervisors: z.array(hypervisor).default([]),
  ha: z
    .strictObject({
      /** Run the HA controller. Default: true. */
      enabled: z.boolean().default(true),
      /** Monitoring pass interval (the paper polled Ganglia every 60 s). Default: 10s. */
      scanInterval: duration.prefault(10),
      /** Wait after a reboot before restarting the VM (paper: 3 min). Default: 3m. */
      t1: duration.prefault(180),
      /** Wait after a restart before reinstalling (paper: 3 min). Default: 3m. */
      t2: duration.prefault(180),
      /** Direct probes: TCP connect to each VM's and hypervisor's SSH port. */
      probe: z
        .strictObject({
          /** Default: 22. */
          port: port.default(22),
          /** Default: 2s. */
          timeout: duration.prefault(2),
        })
        .prefault({}),
      /**
       * SSH into the VMs for the first rung (`reboot` in the guest), at each host's ip. Default:
       * none (then the reboot rung is reported unreachable and the controller escalates).
       */
      guestSsh: z
        .strictObject({
          user: z.string().min(1).default('root'),
          port: port.default(22),
          key: z.string().optional(),
          knownHosts: z.string().optional(),
          /** Default: reboot (e.g. `sudo -n reboot` for another user). */
          command: z.string().min(1).default('reboot'),
          /**
           * Record in the store the keys a host's installer reported through its token-authenticated
           * install-done call, as that host's only accepted keys (knownHosts, when set, is only read:
           * keys of hosts never reinstalled, and @revoked lines), so the reboot rung reaches a
           * reinstalled VM (its new host keys) without an operator, from every instance. Default: true.
           */
          learnHostKeys: z.boolean().default(true),
        })
        .optional(),
      /**
       * Placement groups: `antiAffinity: [vmA, vmB]` (never on one host) or `affinity: [...]` (kept
       * together); strict (the VM waits rather than break it) or not (followed when some host allows).
       */
      rules: z
        .array(
          z
            .strictObject({
              antiAffinity: z.array(hostname).min(2, { message: 'expected at least two VMs' }).optional(),
              affinity: z.array(hostname).min(2, { message: 'expected at least two VMs' }).optional(),
              /** Default: true. */
              strict: z.boolean().default(true),
            })
            .refine((r) => (r.antiAffinity === undefined) !== (r.affinity === undefined), { message: 'expected exactly one of antiAffinity or affinity' }),
        )
        .default([]),
      /** Restart order (a VM's `after`): how long it waits for its dependencies, and whether that wait ends at all. */
      restartOrder: z
        .strictObject({
          /** After this long the VM starts anyway. Default: 10m. */
          timeout: duration.prefault(600),
          /** False: wait for the dependencies however long it takes. Default: true. */
          timeoutApplies: z.boolean().default(true),
        })
        .prefault({}),
      /** Admission control, computed after every pass: would the VMs of failed hosts find room? */
      admission: z
        .strictObject({
          /** Simultaneous failures planned for (1 = N+1). Default: 1. */
          failures: z.number().int().min(1).default(1),
          /** host: any hypervisor fails; rack: every hypervisor of one `rack` label fails together. Default: host. */
          domain: z.enum(['host', 'rack']).default('host'),
          /** Shares of each hypervisor's CPUs and memory that placements other than restarts leave free. Default: 0. */
          reserve: z
            .strictObject({
              cpuShare: z.number().min(0).max(0.9).default(0),
              memoryShare: z.number().min(0).max(0.9).default(0),
            })
            .prefault({}),
        })
        .prefault({}),
      /**
       * `3rc hv reinstall` and `3rc hv roll`: each step's limit; a step over it fails the reinstall
       * (the host stays in maintenance). Defaults: drain 1h, pxe 1m, cycle 3m, install 1h, ready 15m, undrain 1m.
       */
      reinstall: z
        .strictObject({
          timeouts: z
            .strictObject({ drain: duration.optional(), pxe: duration.optional(), cycle: duration.optional(), install: duration.optional(), ready: duration.optional(), undrain: duration.optional() })
            .prefault({}),
        })
        .prefault({}),
      /** gmond or gmetad to read load_five and cpu_num from (XML over TCP). Default: none. */
      ganglia: z.strictObject({ host: z.string().min(1), port: port.default(8649) }).optional(),
      budget: z
        .strictObject({
          /** Automatic recoveries allowed per VM within the window, then quarantine. Default: 3. */
          recoveries: z.number().int().min(0).default(3),
          /** Default: 1h. */
          window: duration.prefault(3600),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Physical-to-virtual migration (`3rc p2v HOST --to HYPERVISOR`). */
  p2v: z
    .strictObject({
      /** The capture profile: an `installer: image` profile whose template is capture.sh.hbs. Default: capture. */
      profile: hostname.default('capture'),
      /** The shared VM storage directory as 3rc sees it; captured disks are written here. Default: /var/lib/3rc/vms. */
      storage: z.string().min(1).default('/var/lib/3rc/vms'),
      /** The same directory as the hypervisors see it (NFS mount point). Default: storage. */
      hypervisorStorage: z.string().min(1).optional(),
      /** Bridge on the hypervisor for the VM's NIC. Default: br0. */
      bridge: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, { message: 'expected a network interface name like br0' }).default('br0'),
      /** libvirt domain type: kvm, or qemu (emulation, no /dev/kvm). Default: kvm. */
      domainType: z.enum(['kvm', 'qemu']).default('kvm'),
      /**
       * What the physical host does once captured: poweroff (it must not come back with the VM's
       * MAC and address), or reboot into its own disk (only when it is moved off this network). Default: poweroff.
       */
      physicalAfter: z.enum(['poweroff', 'reboot']).default('poweroff'),
      /** Raw bytes per uploaded chunk, in MiB (a chunk is the unit of resuming). Default: 32. */
      chunkMb: z.number().int().min(1).max(1024).default(32),
      /** A capture that has not completed after this long is abandoned. Default: 6h. */
      timeout: duration.prefault(21600),
    })
    .prefault({}),
  store: z
    .strictObject({
      /** Default: sqlite (embedded). etcd: redundant 3rc, several instances and one leader (store.etcd). */
      kind: z.enum(['sqlite', 'etcd']).default('sqlite'),
      /** Database file. Default: /var/lib/3rc/3rc.db. */
      path: z.string().default('/var/lib/3rc/3rc.db'),
      /**
       * full: every acknowledged write is on disk (fsync), surviving power loss.
       * normal: survives a crash of 3rc (kill -9) but not of the machine. Default: full.
       */
      sync: z.enum(['full', 'normal']).default('full'),
      /** kind etcd only (required then): the etcd cluster shared by every 3rc instance. */
      etcd: z
        .strictObject({
          /** Client URLs of the members: `host:port` or `http(s)://host:port`. At least one. */
          endpoints: z.array(etcdEndpoint).min(1, { message: 'expected at least one etcd endpoint (host:port)' }),
          /** Key prefix of this 3rc cluster's data; instances sharing it share state and elect one leader. Default: /3rc/. */
          prefix: z.string().regex(/^\/([A-Za-z0-9._-]+\/)*$/, { message: 'expected a key prefix that starts and ends with /, like /3rc/ or /site-a/3rc/' }).default('/3rc/'),
          /** TLS to etcd: PEM files (relative to the config file); cert and key for client authentication. Default: none (plain). */
          tls: z.strictObject({ ca: z.string().min(1), cert: z.string().min(1).optional(), key: z.string().min(1).optional() }).optional(),
          /**
           * TTL of the leader's etcd lease, in whole seconds (at least 2s): a dead leader is replaced
           * after at most about this long. Default: 5s.
           */
          leaseTtl: duration
            .refine((ms) => ms >= 2000 && ms % 1000 === 0, { message: 'expected whole seconds, at least 2s (an etcd lease TTL), got less or a fraction' })
            .prefault(5),
          /** This instance's name in the election and in health answers. Default: hostname/pid. */
          name: z.string().min(1).max(100).optional(),
        })
        .optional(),
    })
    .prefault({}),
  /**
   * The event log (boot trace, HA decisions) and what keeps it bounded: unknown MACs
   * are counted per minute instead of recorded, known hosts' events share a write budget, and
   * old events are deleted in small batches.
   */
  events: z
    .strictObject({
      /** Events older than this are deleted. Default: 14d. */
      maxAge: duration.prefault('14d'),
      /**
       * At most this many boot-trace events (DHCP, TFTP, HTTP, DNS, trace.unknown, refused P2V calls) are kept, the
       * oldest go first. HA decisions, boot-table, inventory, install, P2V job and hypervisor events
       * are not counted: they are kept for maxAge whatever their number (a flood of boot trace
       * never pushes them out). Default: 200000.
       */
      maxEvents: z.number().int().min(1000).default(200_000),
      /** Boot-trace events of known hosts written per second, all together (also the burst); the rest are counted and dropped. Default: 1000. */
      writesPerSecond: z.number().int().min(1).default(1000),
      /** Unknown MACs counted one by one per minute (one row each); beyond, one shared row. Default: 256. */
      unknownMacsPerMinute: z.number().int().min(0).max(10_000).default(256),
    })
    .prefault({}),
  log: z
    .strictObject({
      /** Default: info. */
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /**
       * Log lines per second at most (also the burst); beyond, lines are counted and dropped, and
       * one warn line a second says how many. Any host on the LAN can make 3rc log (malformed
       * packets, refused requests): unbounded, a flood costs CPU, disk and memory. 0: no limit. Default: 1000.
       */
      maxLinesPerSecond: z.number().int().min(0).default(1000),
    })
    .prefault({}),
});

/** The config exactly as validated (before paths are resolved). */
export type RawConfig = z.output<typeof configSchema>;
export type HostConfig = RawConfig['hosts'][number];
export type ProfileConfig = RawConfig['profiles'][number];
export type HypervisorConfig = RawConfig['hypervisors'][number];
export type SubnetConfig = RawConfig['network']['subnets'][number];
/** What every server config has (enabled, listen, port). */
export type ServerConfig = Pick<RawConfig['servers']['dhcp'], 'enabled' | 'listen' | 'port'>;
export type DhcpServerConfig = RawConfig['servers']['dhcp'];
export type Dhcp6ServerConfig = RawConfig['servers']['dhcp6'];
export type Network6Config = NonNullable<RawConfig['network']['ipv6']>;
export type TftpServerConfig = RawConfig['servers']['tftp'];
export type HttpServerConfig = RawConfig['servers']['http'];
export type DnsServerConfig = RawConfig['servers']['dns'];
export type RaServerConfig = RawConfig['servers']['ra'];

/** The host entry schema alone, for validating hosts that arrive through the API. */
export const hostSchema = host;
