/**
 * The NoCloud datasource of cloud-init over HTTP: what a host's cloud-init fetches from its seed
 * URL, /ci/<mac>/ (kernel argument `ds=nocloud;s=URL`, boot/kernel-args.ts): `meta-data`,
 * `user-data`, `vendor-data` and `network-config`.
 *
 * meta-data and network-config are data from the inventory, serialised with the `yaml` package
 * for YAML 1.1, as cloud-init's PyYAML reads it (never text pasted into YAML). user-data is the profile's `#cloud-config` template (`userData`,
 * or `template` for autoinstall), rendered like a kickstart, whose values go through `{{yq ...}}`
 * (render/yaml-value.ts). vendor-data is an empty cloud-config: 3rc has no vendor layer.
 *
 * The instance-id changes with each install, so that cloud-init runs its per-instance modules
 * again after a reinstall: it is derived from the boot entry's install (when it was set, and the
 * short hash of its token that the event log already records), never from the token itself.
 */
import type { AddressFamily } from '../boot/client.js';
import { lazyRequire } from '../lib/lazy.js';
import type { BootEntry } from '../domain/boot-entry.js';
import type { Host, Profile } from '../inventory/inventory.js';
import { tokenHash } from '../inventory/install.js';
import { ErrorCodes, NotFoundError } from '../lib/errors.js';
import { buildContext, type RenderContext } from './context.js';
import { profileFor, type RenderDeps, type Rendered } from './render.js';

export const NOCLOUD_FILES = ['meta-data', 'user-data', 'vendor-data', 'network-config'] as const;
export type NoCloudFile = (typeof NOCLOUD_FILES)[number];

export function isNoCloudFile(name: string): name is NoCloudFile {
  return (NOCLOUD_FILES as readonly string[]).includes(name);
}

/**
 * YAML as cloud-init reads it: PyYAML is YAML 1.1, where a bare `52:54:00:12:34:56` is a base-60
 * integer and `yes`/`on` are booleans; serialised for 1.1, such strings are quoted.
 */
function cloudYaml(data: unknown): string {
  return yaml().stringify(data, { version: '1.1' });
}

/** The yaml package, loaded at the first NoCloud file (most profiles never serve one). */
const yaml = lazyRequire<typeof import('yaml')>('yaml');

/** The NIC name network-config gives the host's interface when the vars name none (`vars.nic`). */
export const DEFAULT_NIC = 'eth0';

/** An empty cloud-config: a vendor-data cloud-init reads as "nothing to add". */
export const VENDOR_DATA = '#cloud-config\n{}\n';

/** The template of a profile's NoCloud user-data, or undefined when the profile serves none. */
export function userDataTemplate(profile: Pick<Profile, 'installer' | 'template' | 'userData'>): string | undefined {
  return profile.userData ?? (profile.installer === 'autoinstall' ? profile.template : undefined);
}

/**
 * The instance-id of one install of a host: `3rc-<host>-<since, base 36>-<8 hex of the token's
 * hash>`. A new install has a new `since` and a new token, so a new id; the same install always
 * gives the same id (cloud-init may fetch meta-data more than once).
 */
export function instanceId(hostName: string, entry: Pick<BootEntry, 'since' | 'token'> | undefined): string {
  const since = Math.max(0, Math.trunc(entry?.since ?? 0)).toString(36);
  const gen = entry?.token ? tokenHash(entry.token).slice(0, 8) : 'local';
  return `3rc-${hostName}-${since}-${gen}`;
}

/** meta-data: the instance-id and the host name. */
export function metaData(ctx: RenderContext, entry: Pick<BootEntry, 'since' | 'token'> | undefined): string {
  return cloudYaml({ 'instance-id': instanceId(ctx.host.name, entry), 'local-hostname': ctx.host.name });
}

/**
 * network-config, version 2: the host's NIC (matched by its MAC, named `vars.nic`, default eth0:
 * cloud-init's ifupdown renderer, Debian's, writes the name it is given) with its reserved
 * address, the subnet's gateway and name servers, and the domain as search domain.
 */
export function networkConfig(ctx: RenderContext): string {
  const nic = typeof ctx.vars.nic === 'string' && ctx.vars.nic !== '' ? ctx.vars.nic : DEFAULT_NIC;
  const eth: Record<string, unknown> = {
    match: { macaddress: ctx.host.mac.toLowerCase() },
    'set-name': nic,
    dhcp4: false,
    addresses: [`${ctx.host.ip}/${ctx.network.prefix}`],
  };
  if (ctx.network.gateway) eth.routes = [{ to: '0.0.0.0/0', via: ctx.network.gateway }];
  eth.nameservers = { addresses: ctx.network.nameServers, search: [ctx.network.domain] };
  return cloudYaml({ version: 2, ethernets: { [nic]: eth } });
}

/**
 * One NoCloud file of a host for its boot entry (or another profile, for previews). Throws
 * NotFoundError when the profile serves no user-data, TemplateError from its template. `family`:
 * the address family of the request (its URLs name 3rc's address of that family: context.ts).
 */
export function renderNoCloud(deps: RenderDeps, host: Host, entry: BootEntry | undefined, file: NoCloudFile, profileName?: string, family: AddressFamily = 'ipv4'): Rendered {
  const profile = profileFor(deps, host, entry, profileName);
  const context = buildContext(deps.config, host, profile, entry, family);
  const generated = (text: string): Rendered => ({ text, file: `(generated ${file})`, profile, context });
  switch (file) {
    case 'meta-data':
      return generated(metaData(context, entry));
    case 'network-config':
      return generated(networkConfig(context));
    case 'vendor-data':
      return generated(VENDOR_DATA);
    case 'user-data': {
      const name = userDataTemplate(profile);
      if (!name) throw new NotFoundError(ErrorCodes.TEMPLATE, `profile ${profile.name} (${profile.installer}) has no NoCloud user-data (userData)`);
      const path = deps.engine.kickstartFile(name);
      return { text: deps.engine.render(path, context, host.name), file: path, profile, context };
    }
  }
}
