/**
 * Everything a host would be served, rendered by the same functions the HTTP routes use: for
 * `3rc render` and its API twin (GET /api/v1/hosts/NAME/render).
 */
import { readFileSync } from 'node:fs';
import type { Host } from '../inventory/inventory.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { compilePxelinuxTemplate, macConfig, parsePxelinuxName } from '../tftp/pxelinux.js';
import { renderIpxe, renderKickstart, type RenderDeps } from './render.js';
import { macPath } from './urls.js';

const PXELINUX_TEMPLATE = 'pxelinux.cfg.hbs';

export interface Preview {
  host: string;
  /** In URL and pxelinux form: 52-54-00-77-00-10. */
  mac: string;
  mode: 'install' | 'local';
  profile: string;
  /** Null for `image` profiles, which have no template. */
  kickstart: { file: string; text: string } | null;
  ipxe: { file: string; text: string };
  /** pxelinux.cfg/01-<mac> as TFTP serves it (pxelinux.0 and syslinux.efi read it). */
  pxelinux: { file: string; text: string };
  /** Why what is shown is not (yet) what the host gets, if it is not. */
  note: string | null;
}

export function preview(deps: RenderDeps, host: Host, entry: BootEntry | undefined, profileName?: string): Preview {
  const ipxe = renderIpxe(deps, host, entry, profileName);
  const profile = ipxe.profile;
  const ks = profile.template ? renderKickstart(deps, host, entry, profileName) : null;
  const mode = entry?.mode ?? 'local';
  let note: string | null = null;
  if (mode !== 'install') note = `${host.name} boots from its disk now (it would get 404 for its kickstart); this is what it gets once flipped to install, with its token in the URLs`;
  else if (profileName && profileName !== entry?.profile) note = `${host.name} is installing ${entry?.profile}; this is a preview with profile ${profileName}`;
  // The same function the TFTP server answers pxelinux.cfg/01-<mac> with.
  const pxeFile = deps.engine.templateFile(PXELINUX_TEMPLATE);
  const shown: BootEntry | undefined = profileName && entry ? { ...entry, mode: 'install', profile: profileName } : entry;
  const pxe = macConfig(parsePxelinuxName(`pxelinux.cfg/01-${macPath(host.mac)}`)!, {
    config: deps.config,
    inventory: deps.inventory as Parameters<typeof macConfig>[1]['inventory'],
    bootTable: { get: () => shown },
    template: compilePxelinuxTemplate(readFileSync(pxeFile, 'utf8')),
  })!;
  return { host: host.name, mac: macPath(host.mac), mode, profile: profile.name, kickstart: ks && { file: ks.file, text: ks.text }, ipxe: { file: ipxe.file, text: ipxe.text }, pxelinux: { file: pxeFile, text: pxe.content }, note };
}
