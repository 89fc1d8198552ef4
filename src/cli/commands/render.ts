import { loadConfig } from '../../config/load.js';
import { ErrorCodes, InputError } from '../../lib/errors.js';
import { TemplateEngine } from '../../render/engine.js';
import { preview, type Preview } from '../../render/preview.js';
import { EXIT_OK, type Io } from '../io.js';
import { withLocalState } from '../local-state.js';
import { findApi } from '../target.js';

const NOCLOUD = ['meta-data', 'user-data', 'vendor-data', 'network-config'] as const;
const ONLY = ['kickstart', 'ipxe', 'pxelinux', 'grub', ...NOCLOUD];

export const help = `Usage: 3rc render HOST [--profile PROFILE] [--ipv6] [--only kickstart|ipxe|pxelinux|grub|meta-data|user-data|vendor-data|network-config] [--config FILE]

Prints what HOST is served: its kickstart or preseed exactly as the host gets it (the same render,
with its current install token), then its iPXE script, its pxelinux.cfg/01-<mac> entry and its
grub.cfg-01-<mac> (as TFTP serves them), and for cloud-image and autoinstall profiles the NoCloud
files its cloud-init fetches from /ci/<mac>/. With --only, prints just that one, for pipes. --profile previews another profile; --ipv6 shows
what the host gets when it asks over IPv6 (every URL at 3rc's IPv6 address, network.ipv6). Asks the running 3rc (API token needed) or, when none
runs, renders from the store.`;

export async function run(configFile: string, hostName: string, opts: { profile?: string; only?: string; ipv6?: boolean }, io: Io): Promise<number> {
  if (opts.only !== undefined && !ONLY.includes(opts.only)) throw new InputError(ErrorCodes.USAGE, `--only takes ${ONLY.slice(0, -1).join(', ')} or ${ONLY.at(-1)}, not ${JSON.stringify(opts.only)}`);
  const config = loadConfig(configFile);
  const api = await findApi(config, io.env);
  let p: Preview;
  if (api) {
    const params = new URLSearchParams({ ...(opts.profile ? { profile: opts.profile } : {}), ...(opts.ipv6 ? { family: 'ipv6' } : {}) }).toString();
    const q = params ? `?${params}` : '';
    p = await api.call<Preview>('GET', `/api/v1/hosts/${encodeURIComponent(hostName.toLowerCase())}/render${q}`);
  } else {
    p = await withLocalState(config, async ({ inventory, bootTable }) => {
      const host = inventory.hostByName(hostName);
      if (!host) throw new InputError(ErrorCodes.UNKNOWN_HOST, `no host named ${JSON.stringify(hostName)}`);
      if (opts.profile !== undefined && !inventory.profile(opts.profile)) throw new InputError(ErrorCodes.UNKNOWN_PROFILE, `profile ${JSON.stringify(opts.profile)} does not exist`);
      const engine = new TemplateEngine({ templates: config.paths.templates, kickstarts: config.paths.kickstarts });
      return preview({ config, inventory, engine }, host, bootTable.get(host.mac), opts.profile, opts.ipv6 ? 'ipv6' : 'ipv4');
    });
  }
  if (p.note) io.err(`note: ${p.note}`);
  if (opts.only === 'kickstart') {
    if (!p.kickstart) throw new InputError(ErrorCodes.TEMPLATE, `profile ${p.profile} has no kickstart or preseed template`);
    io.out(p.kickstart.text.replace(/\n$/, ''));
  } else if (opts.only === 'ipxe') {
    io.out(p.ipxe.text.replace(/\n$/, ''));
  } else if (opts.only === 'pxelinux') {
    io.out(p.pxelinux.text.replace(/\n$/, ''));
  } else if (opts.only === 'grub') {
    io.out(p.grub.text.replace(/\n$/, ''));
  } else if (opts.only !== undefined) {
    const f = opts.only as (typeof NOCLOUD)[number];
    if (!p.nocloud) throw new InputError(ErrorCodes.TEMPLATE, `profile ${p.profile} serves no NoCloud data (only cloud-image and autoinstall profiles, or one with userData, do)`);
    io.out(p.nocloud[f].text.replace(/\n$/, ''));
  } else {
    if (p.kickstart) io.out(`#### ${p.kickstart.file} (${p.host}, profile ${p.profile}, boot ${p.mode})\n${p.kickstart.text.replace(/\n$/, '')}`);
    io.out(`#### ${p.ipxe.file} (${p.host})\n${p.ipxe.text.replace(/\n$/, '')}`);
    io.out(`#### ${p.pxelinux.file} (${p.host}: pxelinux.cfg/01-${p.mac})\n${p.pxelinux.text.replace(/\n$/, '')}`);
    io.out(`#### ${p.grub.file} (${p.host}: grub.cfg-01-${p.mac})\n${p.grub.text.replace(/\n$/, '')}`);
    for (const f of p.nocloud ? NOCLOUD : []) io.out(`#### ${p.nocloud![f].file} (${p.host}: /ci/${p.mac}/${f})\n${p.nocloud![f].text.replace(/\n$/, '')}`);
  }
  return EXIT_OK;
}
