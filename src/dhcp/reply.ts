/**
 * Building replies (RFC 2131 section 4.3, PXE 2.1, RFC 4578): header, network and boot options,
 * and where each reply goes. Pure: no I/O.
 */
import { bootFile } from '../boot/booter.js';
import { dhcpClient } from '../boot/client.js';
import type { DhcpEventData } from '../events/kinds.js';
import type { Host } from '../inventory/inventory.js';
import { cidrBroadcast, formatIpv4 } from '../lib/net.js';
import { DhcpOptions, F, getField, MessageType, Opt, setField } from './options.js';
import { IPXE_NO_PXEDHCP, PXE_DISCOVERY_CONTROL, PxeF, userClasses } from './options-pxe.js';
import { BOOTREPLY, emptyPacket, FLAG_BROADCAST, type DhcpPacket } from './packet.js';
import { BROADCAST, CLIENT_PORT, SERVER_PORT, ZERO, type Destination, type PolicyContext, type SubnetInfo } from './context.js';

/**
 * Where a reply goes (RFC 2131 4.1): to the relay (giaddr:67); else to ciaddr when the client
 * has an address; else broadcast. RFC 2131 allows a unicast to yiaddr/chaddr when the broadcast
 * flag is clear, but that needs an ARP entry the server adds by hand (dnsmasq uses an ioctl);
 * Node's dgram cannot, and a unicast IP packet to an address nobody answers ARP for is lost.
 * So every reply to a client without an address is broadcast: always correct, if noisier. The
 * server sends it from a socket bound to its address in the client's subnet, which makes Linux
 * send 255.255.255.255 out of that interface (not the default route's).
 */
export function destination(req: DhcpPacket, nak: boolean, subnet: SubnetInfo | undefined): Destination {
  if (req.giaddr !== ZERO) return { address: req.giaddr, port: SERVER_PORT };
  if (!nak && req.ciaddr !== ZERO) return { address: req.ciaddr, port: CLIENT_PORT };
  return subnet ? { address: BROADCAST, port: CLIENT_PORT, fallback: formatIpv4(cidrBroadcast(subnet.cidr)), subnet: subnet.cidr.text } : { address: BROADCAST, port: CLIENT_PORT };
}

/**
 * The unicast addresses a reply to `req` goes to, directly or through a relay: the source for a
 * PXE boot-server request (port 4011, answered where it came from); else the relay (giaddr:67)
 * and the client's address (ciaddr:68), which a relay forwards to. Empty when the answer is our
 * own broadcast on the client's subnet. The server drops a request when one of them is an
 * address no reply may go to (lib/guard.ts unanswerable).
 */
export function replyTargets(req: DhcpPacket, via: 'dhcp' | 'pxe', source: Destination): Destination[] {
  if (via === 'pxe') return [source];
  const out: Destination[] = [];
  if (req.giaddr !== ZERO) out.push({ address: req.giaddr, port: SERVER_PORT });
  if (req.ciaddr !== ZERO) out.push({ address: req.ciaddr, port: CLIENT_PORT });
  return out;
}

export function replyHeader(req: DhcpPacket): DhcpPacket {
  const p = emptyPacket(BOOTREPLY);
  p.htype = req.htype;
  p.hlen = req.hlen;
  p.xid = req.xid;
  p.flags = req.flags & FLAG_BROADCAST;
  p.giaddr = req.giaddr;
  p.chaddr = req.chaddr.slice();
  return p;
}

export function buildNak(req: DhcpPacket, ctx: PolicyContext, subnet: SubnetInfo): { packet: DhcpPacket; to: Destination } {
  const p = replyHeader(req);
  // RFC 2131 4.3.2: a NAK through a relay has the broadcast bit set (the client's address is wrong).
  if (req.giaddr !== ZERO) p.flags |= FLAG_BROADCAST;
  setField(p.options, F.messageType, MessageType.NAK);
  setField(p.options, F.serverId, ctx.settings.serverIp);
  echoRelayInfo(req, p.options);
  return { packet: p, to: destination(req, true, subnet) };
}

/** RFC 3046 2.2: the relay agent information goes back unchanged, last. */
export function echoRelayInfo(req: DhcpPacket, out: DhcpOptions): void {
  const info = req.options.get(Opt.RELAY_AGENT_INFO);
  if (info) out.set(Opt.RELAY_AGENT_INFO, info);
}

/** Is the client iPXE (user class `iPXE`, RFC 3004 or bare, or iPXE's option 175)? */
export function isIpxe(req: DhcpPacket): boolean {
  if (req.options.has(Opt.IPXE_ENCAP)) return true;
  const uc = req.options.get(Opt.USER_CLASS);
  return !!uc && userClasses(uc).includes('iPXE');
}

/** Is the client boot firmware: vendor class `PXEClient…` or `HTTPClient…` (RFC 4578, UEFI), or iPXE? */
export function isBootFirmware(req: DhcpPacket): boolean {
  const vc = getField(req.options, PxeF.vendorClass);
  return (vc?.startsWith('PXEClient') ?? false) || (vc?.startsWith('HTTPClient') ?? false) || isIpxe(req);
}

/**
 * Boot information for a client, as the booter answers it (boot/booter.ts bootFile: the loader
 * of its architecture, or the iPXE script URL; none without a BootTable entry), with the facts
 * the boot trace records: the entry's mode (`boot`: the HA evidence counts local-mode boots),
 * iPXE, the architecture asked (`none`: no option 93, answered as BIOS), why no file.
 */
export function bootInfo(req: DhcpPacket, ctx: PolicyContext, mac: string): { file: string | null; nextServer: string | null; data: DhcpEventData } {
  const entry = ctx.bootEntry(mac);
  const asked = getField(req.options, PxeF.clientArch)?.[0] ?? null;
  const client = dhcpClient(asked, isIpxe(req), getField(req.options, PxeF.vendorClass));
  const loader = bootFile(ctx.settings, mac, entry, client, ctx.hostByMac(mac)?.profile);
  if (!entry) return { file: null, nextServer: null, data: { boot: 'none' } };
  const data: DhcpEventData = { boot: entry.mode };
  // Boot firmware asking (PXE ROM, iPXE, UEFI): only these requests are boot attempts that the
  // HA evidence counts; the installed system's own DHCP client asks on every boot too.
  if (isBootFirmware(req)) data.pxe = true;
  if (client.firmware === 'ipxe') data.client = 'ipxe';
  if (client.firmware === 'ipxe' && ctx.settings.ipxeScript) return { file: loader.file, nextServer: loader.nextServer, data };
  data.arch = asked ?? client.arch ?? 'none';
  if (client.firmware === 'uefi-http') data.client = 'uefi-http';
  if (loader.file === null) data.bootFile = loader.why;
  return { file: loader.file, nextServer: loader.nextServer, data };
}

/** Boot file and the PXE/iPXE options that go with it (shared by the server and proxy modes). */
export function addBootOptions(req: DhcpPacket, ctx: PolicyContext, p: DhcpPacket, file: string, proxyMode: boolean): void {
  const o = p.options;
  const s = ctx.settings;
  // The file field holds 127 characters; a longer name (an iPXE URL) goes in option 67 only.
  if (file.length < 128) p.file = file;
  const asked = getField(req.options, F.parameterList) ?? [];
  const vendorClass = getField(req.options, PxeF.vendorClass);
  const httpBoot = vendorClass?.startsWith('HTTPClient') ?? false;
  // UEFI HTTP Boot: the boot file is a URL and nothing comes over TFTP, so no TFTP server name.
  if (asked.includes(Opt.TFTP_SERVER) && !httpBoot) setField(o, F.tftpServer, s.serverIp);
  // UEFI spec 2.x section 24.7.2: an HTTP Boot client takes its URL from option 67 (and ignores
  // an offer whose option 60 is not HTTPClient), so 67 goes whether it asked or not.
  if (asked.includes(Opt.BOOTFILE) || file.length >= 128 || httpBoot) setField(o, F.bootfile, file);
  if (httpBoot) setField(o, PxeF.vendorClass, 'HTTPClient');
  const pxe = vendorClass?.startsWith('PXEClient') ?? false;
  if (pxe) {
    // PXE 2.1: a PXEClient needs 60 = "PXEClient" echoed to treat this as a PXE offer, and
    // option 43 with discovery control bit 3 ("use the boot file given, skip boot-server
    // discovery"), else some ROMs try multicast discovery or wait for a ProxyDHCP.
    setField(o, PxeF.vendorClass, 'PXEClient');
    setField(o, PxeF.vendorSpecific, new Map([[PXE_DISCOVERY_CONTROL, Uint8Array.of(8)]]));
  }
  // RFC 4578 2.3: echo the client machine identifier (some firmware ignores offers without it).
  const uuid = req.options.get(Opt.CLIENT_UUID);
  if (uuid) o.set(Opt.CLIENT_UUID, uuid);
  // iPXE: no-pxedhcp = 1 so that it does not wait ~3 s for a ProxyDHCP offer (lab-notes). Not
  // in proxy mode: there the site's server answers first and iPXE must wait for us.
  if (isIpxe(req) && !proxyMode) setField(o, PxeF.ipxe, new Map([[IPXE_NO_PXEDHCP, Uint8Array.of(1)]]));
}

export function buildReply(req: DhcpPacket, ctx: PolicyContext, subnet: SubnetInfo, mac: string, host: Host | undefined, mt: number, yiaddr: string): { reply: { packet: DhcpPacket; to: Destination }; data: DhcpEventData } {
  const s = ctx.settings;
  const p = replyHeader(req);
  const isInform = yiaddr === ZERO;
  p.yiaddr = yiaddr;
  if (mt === MessageType.ACK) p.ciaddr = req.ciaddr;
  const o = p.options;
  setField(o, F.messageType, mt);
  // The fixed options come encoded from the settings (context.ts: SubnetInfo.wire).
  const w = subnet.wire;
  o.set(Opt.SERVER_ID, s.wire.serverId);
  if (!isInform) {
    // RFC 2131 4.3.5: no lease time in an answer to INFORM. T1 = 0.5, T2 = 0.875 of the lease.
    o.set(Opt.LEASE_TIME, w.leaseTime);
    o.set(Opt.RENEWAL_TIME, w.renewalTime);
    o.set(Opt.REBINDING_TIME, w.rebindingTime);
  }
  o.set(Opt.SUBNET_MASK, w.mask);
  o.set(Opt.BROADCAST, w.broadcast);
  if (w.router) o.set(Opt.ROUTER, w.router);
  if (w.dns) o.set(Opt.DNS, w.dns);
  if (host) setField(o, F.hostName, host.name);
  o.set(Opt.DOMAIN_NAME, s.wire.domain);

  const boot = bootInfo(req, ctx, mac);
  if (boot.file !== null && boot.nextServer !== null) {
    p.siaddr = boot.nextServer; // next-server: where TFTP is
    addBootOptions(req, ctx, p, boot.file, false);
  }
  echoRelayInfo(req, o);
  return { reply: { packet: p, to: destination(req, false, subnet) }, data: { ...boot.data, file: boot.file } };
}
