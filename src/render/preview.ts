/**
 * Everything a host would be served, rendered by the same functions the HTTP routes use: for
 * `3rc render` and its API twin (GET /api/v1/hosts/NAME/render).
 */
import type { Host } from '../inventory/inventory.js';
import type { BootEntry } from '../store/store.js';
import { renderIpxe, renderKickstart, type RenderDeps } from './render.js';

export interface Preview {
  host: string;
  mode: 'install' | 'local';
  profile: string;
  /** Null for `image` profiles, which have no template. */
  kickstart: { file: string; text: string } | null;
  ipxe: { file: string; text: string };
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
  return { host: host.name, mode, profile: profile.name, kickstart: ks && { file: ks.file, text: ks.text }, ipxe: { file: ipxe.file, text: ipxe.text }, note };
}
