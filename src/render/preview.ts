/**
 * Everything a host would be served, rendered by the same functions the HTTP routes use: for
 * `3rc render` and its API twin (GET /api/v1/hosts/NAME/render).
 */
import { readFileSync } from 'node:fs';
import type { Host } from '../inventory/inventory.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Preview } from '../boot/served.js';
import { macPath } from '../boot/urls.js';
import { serverEndpoint, type BootSpec } from '../boot/booter.js';
import type { AddressFamily } from '../boot/client.js';
import { InputError, ErrorCodes } from '../lib/errors.js';
import { compileGrubTemplate, grubConfig, GRUB_TEMPLATE } from './grub.js';
import { compilePxelinuxTemplate, macConfig, PXELINUX_TEMPLATE } from './pxelinux.js';
import { NOCLOUD_FILES, renderNoCloud, userDataTemplate } from './nocloud.js';
import { hostSpec, renderIpxe, renderKickstart, type RenderDeps } from './render.js';

export type { Preview };

/**
 * `family`: as the host gets it when it asks over that address family (over IPv6 every URL names
 * 3rc's IPv6 address, render/context.ts); IPv6 needs network.ipv6 (an InputError otherwise).
 */
export function preview(deps: RenderDeps, host: Host, entry: BootEntry | undefined, profileName?: string, family: AddressFamily = 'ipv4'): Preview {
  if (family === 'ipv6' && !deps.config.network.ipv6) throw new InputError(ErrorCodes.USAGE, 'no IPv6 preview: network.ipv6 is not set in the config', 'family');
  // The booter's answer, as DHCP, TFTP and HTTP get it (with the preview's profile, if any).
  const spec = hostSpec(deps, host, entry, profileName, family);
  const ipxe = renderIpxe(deps, host, spec, family);
  const profile = ipxe.profile;
  const ks = profile.template ? renderKickstart(deps, host, entry, profileName, family) : null;
  const nocloud = userDataTemplate(profile) ? (Object.fromEntries(NOCLOUD_FILES.map((f) => {
    const out = renderNoCloud(deps, host, entry, f, profileName, family);
    return [f, { file: out.file, text: out.text }];
  })) as Preview['nocloud']) : null;
  const mode = entry?.mode ?? 'local';
  let note: string | null = null;
  if (mode !== 'install') note = `${host.name} boots from its disk now (it would get 404 for its kickstart); this is what it gets once flipped to install, with its token in the URLs`;
  else if (profileName && profileName !== entry?.profile) note = `${host.name} is installing ${entry?.profile}; this is a preview with profile ${profileName}`;
  return { host: host.name, mac: macPath(host.mac), mode, profile: profile.name, family, kickstart: ks && { file: ks.file, text: ks.text }, nocloud, ipxe: { file: ipxe.file, text: ipxe.text }, ...loaderConfigs(deps, spec, family), note };
}

/**
 * The host's loader configs, by the same functions the TFTP server answers pxelinux.cfg/01-<mac>
 * and grub.cfg-01-<mac> with (`file`: the template each came from).
 */
export function loaderConfigs(deps: Pick<RenderDeps, 'config' | 'engine'>, spec: BootSpec, family: AddressFamily = 'ipv4'): Pick<Preview, 'pxelinux' | 'grub'> {
  const pxeFile = deps.engine.templateFile(PXELINUX_TEMPLATE);
  const pxe = macConfig(spec, '', compilePxelinuxTemplate(readFileSync(pxeFile, 'utf8')))!;
  const grubFile = deps.engine.templateFile(GRUB_TEMPLATE);
  const grub = grubConfig(spec, compileGrubTemplate(readFileSync(grubFile, 'utf8')), 'tftp', serverEndpoint(deps.config, family).serverIp)!;
  return { pxelinux: { file: pxeFile, text: pxe.content }, grub: { file: grubFile, text: grub.content } };
}
