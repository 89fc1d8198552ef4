/**
 * Renders what a host gets: its kickstart or preseed, and its iPXE script (from the booter's
 * answer, boot/booter.ts). The HTTP routes (through served.ts), `3rc render` and `3rc lint` all
 * call these, so what an operator previews is exactly what the host is served.
 */
import type { Config } from '../config/load.js';
import type { Host, Inventory, Profile } from '../inventory/inventory.js';
import { ErrorCodes, NotFoundError } from '../lib/errors.js';
import { ANY_CLIENT, bootSettings, bootSpec, type BootSpec } from '../boot/booter.js';
import type { AddressFamily } from '../boot/client.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { buildContext, type RenderContext } from './context.js';
import type { TemplateEngine } from './engine.js';

export const IPXE_TEMPLATE = 'ipxe.hbs';

export interface RenderDeps {
  config: Pick<Config, 'network' | 'servers' | 'vars'>;
  inventory: Pick<Inventory, 'profile' | 'hostByMac'>;
  engine: TemplateEngine;
}

export interface Rendered {
  text: string;
  /** Template file it came from. */
  file: string;
  profile: Profile;
  context: RenderContext;
}

export function profileFor(deps: RenderDeps, host: Host, entry: BootEntry | undefined, override?: string): Profile {
  const name = override ?? entry?.profile ?? host.profile;
  const profile = deps.inventory.profile(name);
  if (!profile) throw new NotFoundError(ErrorCodes.UNKNOWN_PROFILE, `profile ${JSON.stringify(name)} does not exist`);
  return profile;
}

/**
 * The kickstart/preseed of a host for its boot entry (or another profile, for previews), for a
 * request over `family` (its URLs name 3rc's address of that family: render/context.ts).
 */
export function renderKickstart(deps: RenderDeps, host: Host, entry: BootEntry | undefined, profileName?: string, family: AddressFamily = 'ipv4'): Rendered {
  const profile = profileFor(deps, host, entry, profileName);
  if (!profile.template) throw new NotFoundError(ErrorCodes.TEMPLATE, `profile ${profile.name} (${profile.installer}) has no template`);
  const context = buildContext(deps.config, host, profile, entry, family);
  const file = deps.engine.kickstartFile(profile.template);
  return { text: deps.engine.render(file, context, host.name), file, profile, context };
}

/**
 * The booter's answer for a host whose boot entry is `entry` (the BootTable's, or a stand-in:
 * `3rc lint` renders every host as installing), optionally with another profile (previews), to a
 * request over `family`.
 */
export function hostSpec(deps: Pick<RenderDeps, 'config' | 'inventory'>, host: Host, entry: BootEntry | undefined, profileName?: string, family: AddressFamily = 'ipv4'): BootSpec {
  const src = { settings: bootSettings(deps.config), hostByMac: (m: string) => deps.inventory.hostByMac(m), profile: (n: string) => deps.inventory.profile(n), bootEntry: () => entry };
  return bootSpec(src, host.mac, { ...ANY_CLIENT, family }, profileName === undefined ? {} : { profile: profileName });
}

/**
 * The iPXE script of a host, from the booter's answer (boot/booter.ts bootSpec): chain to kernel
 * and initrd over HTTP when installing, else exit to the next boot device. `family`: the one the
 * spec was asked for (its URLs).
 */
export function renderIpxe(deps: Pick<RenderDeps, 'config' | 'engine'>, host: Host, spec: BootSpec, family: AddressFamily = 'ipv4'): Rendered {
  if (!spec.profile) throw new NotFoundError(ErrorCodes.UNKNOWN_PROFILE, `profile ${JSON.stringify(spec.profileName)} does not exist`);
  const context = buildContext(deps.config, host, spec.profile, { token: spec.token }, family);
  const file = deps.engine.templateFile(IPXE_TEMPLATE);
  return { text: deps.engine.render(file, { ...context, installing: spec.mode === 'install' }, host.name), file, profile: spec.profile, context };
}
