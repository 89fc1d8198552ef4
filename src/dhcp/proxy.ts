/**
 * ProxyDHCP decisions (servers.dhcp.mode: proxy). Pure: no I/O.
 */
import type { Host } from '../inventory/inventory.js';
import { F, getField, MessageType, setField } from './options.js';
import { PxeF } from './options-pxe.js';
import type { DhcpPacket } from './packet.js';
import { CLIENT_PORT, subnetFor, type Base, type Decision, type Destination, type PolicyContext } from './context.js';
import { addBootOptions, bootInfo, destination, echoRelayInfo, replyHeader } from './reply.js';

/**
 * ProxyDHCP (PXE 2.1 section 2.2.3, "ProxyDHCP on port 67 and 4011"): the site's DHCP server gives
 * the address; 3rc gives PXE clients only their boot information. On port 67 it answers a
 * PXEClient's DISCOVER with an OFFER that carries no address (yiaddr 0) but option 60
 * `PXEClient`, option 43 (discovery control 8: boot file given, download it), next-server and
 * boot file. A PXE client that still asks the boot server (a REQUEST or INFORM to port 4011, with
 * its address in ciaddr) gets an ACK with the same, sent back to where it came from. REQUESTs on
 * port 67 are for the site's server and ignored. No lease is ever written. A UEFI HTTP Boot client
 * (vendor class `HTTPClient`) is answered the same way, with option 60 `HTTPClient` and its
 * loader's http:// URL in option 67.
 */
export function proxy(req: DhcpPacket, ctx: PolicyContext, mac: string, host: Host | undefined, base: Base): Decision {
  const ignore = (reason: string): Decision => ({ ...base, reason, reply: null });
  const vendorClass = getField(req.options, PxeF.vendorClass);
  // PXE firmware and UEFI HTTP Boot firmware both wait for a ProxyDHCP offer beside the site's
  // (UEFI spec 2.x section 24.7.2 allows the boot URL to come from another server's offer).
  if (!vendorClass?.startsWith('PXEClient') && !vendorClass?.startsWith('HTTPClient')) return ignore('proxy-not-pxe-client');
  if (!host) return ignore('unknown-mac');
  const mt = getField(req.options, F.messageType)!;
  const pxePort = ctx.via === 'pxe';
  if (!pxePort && mt !== MessageType.DISCOVER) return ignore('proxy-leaves-to-site-server');
  if (pxePort && mt !== MessageType.REQUEST && mt !== MessageType.INFORM) return ignore('proxy-not-a-boot-request');
  const boot = bootInfo(req, ctx, mac);
  if (boot.file === null || boot.nextServer === null) return { ...base, reason: 'proxy-no-boot-file', reply: null, data: { ...base.data, ...boot.data } };
  const p = replyHeader(req);
  if (pxePort) p.ciaddr = req.ciaddr;
  p.siaddr = boot.nextServer;
  const o = p.options;
  setField(o, F.messageType, pxePort ? MessageType.ACK : MessageType.OFFER);
  setField(o, F.serverId, ctx.settings.serverIp);
  addBootOptions(req, ctx, p, boot.file, true);
  echoRelayInfo(req, o);
  let to: Destination;
  if (pxePort) to = ctx.peer ?? { address: req.ciaddr, port: CLIENT_PORT };
  else {
    const subnet = subnetFor(req, host, ctx);
    to = destination(req, false, subnet);
  }
  return { ...base, reason: pxePort ? 'proxy-ack' : 'proxy-offer', reply: { packet: p, to }, data: { ...base.data, ...boot.data, file: boot.file } };
}
