/**
 * The HTTP routes' renderer (boot/served.ts HostRenderer) over the template engine: the iPXE
 * script from the booter's answer for the host's current entry, the kickstart, the NoCloud files,
 * the preview.
 */
import type { HostRenderer } from '../boot/served.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { renderNoCloud } from './nocloud.js';
import { preview } from './preview.js';
import { hostSpec, renderIpxe, renderKickstart, type RenderDeps } from './render.js';

export function hostRenderer(deps: RenderDeps & { bootTable: { get(mac: string): BootEntry | undefined } }): HostRenderer {
  return {
    ipxe(host, family = 'ipv4') {
      const spec = hostSpec(deps, host, deps.bootTable.get(host.mac), undefined, family);
      const out = renderIpxe(deps, host, spec, family);
      return { text: out.text, file: out.file, profile: out.profile.name, mode: spec.mode };
    },
    kickstart(host, entry, family = 'ipv4') {
      const out = renderKickstart(deps, host, entry, undefined, family);
      return { text: out.text, file: out.file, profile: out.profile.name };
    },
    nocloud(host, entry, file, family = 'ipv4') {
      const out = renderNoCloud(deps, host, entry, file, undefined, family);
      return { text: out.text, file: out.file, profile: out.profile.name };
    },
    preview: (host, profile, family) => preview(deps, host, deps.bootTable.get(host.mac), profile, family),
  };
}
