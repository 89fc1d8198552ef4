import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RunningLab } from '../../lab/lab.js';
import { FIRMWARES, isArm64, type Firmware } from '../../lab/qemu.js';
import { LabNetwork, labUnavailable } from '../../lab/topology.js';
import { ErrorCodes, InputError } from '../../lib/errors.js';
import { packageRoot } from '../../lib/paths.js';
import { EXIT_FAIL, EXIT_OK, type Io } from '../io.js';

export const help = `Usage: 3rc lab up [--vm NAME[:bios|uefi|uefi-http|secureboot|arm64|arm64-http]]... [--install [--profile NAME]] [--pxe] [--disk GB]
       3rc lab down

A PXE lab on this machine that never touches its network: network namespaces joined by a bridge
(10.77.0.0/24, no route out), 3rc serving examples/lab.yaml at 10.77.0.1 inside them, and qemu
VMs (TCG) whose NICs sit on that bridge and boot from the network first. Needs root, qemu and
the boot files (boot/fetch.sh; scripts/lab-image.sh for the image profile).

  up          start the lab and boot the VMs; prints every VM's boot trace as it happens (DHCP,
              TFTP files with sizes and speeds, HTTP fetches, DNS, callbacks); Ctrl-C stops
              everything and removes the namespaces
    --vm      a host of examples/lab.yaml, optionally with its firmware (default bios): bios
              (SeaBIOS + iPXE ROM), uefi (OVMF PXE), uefi-http (OVMF UEFI HTTP Boot),
              secureboot (OVMF PXE, Secure Boot enforced, Microsoft's keys: see --profile), arm64
              (qemu-system-aarch64 with AAVMF PXE; --install uses the debian12-arm64 profile),
              arm64-http (AAVMF UEFI HTTP Boot: GRUB starts, then stops); repeat for several
              VMs. Default: vm14 (the image profile) when scripts/lab-image.sh has built it,
              else vm10 (the Debian installer)
    --install flip the VMs to install first (else they boot as their boot entry says)
    --profile with --install: install this profile instead of each host's own (e.g.
              debian12-sb for a secureboot VM, debian12-unsigned to see Secure Boot refuse)
    --pxe     treat iPXE ROMs as plain PXE firmware (pxelinux over TFTP) instead of giving them
              the HTTP script
    --disk    disk size of each VM in GB (default 8)
  down        remove what a crashed lab left behind (namespaces 3rclab-*, their processes)

State (config, store, serial consoles, disks) is kept in var/lab/run/ until the next 'lab up'.`;

export const PREFIX = '3rclab';
/** The profile of examples/lab.yaml an arm64 VM installs (the hosts' own profiles are amd64). */
export const ARM64_PROFILE = 'debian12-arm64';

export interface LabArgs {
  action: string | undefined;
  vms: string[];
  install: boolean;
  /** With install: the profile to install (else each host's own). */
  profile?: string | undefined;
  pxe: boolean;
  disk: string | undefined;
}

/** `NAME[:FIRMWARE]` of --vm (default bios); a firmware not in FIRMWARES is a usage error. */
export function parseVm(spec: string): { host: string; firmware: Firmware } {
  const [host = '', fw = 'bios'] = spec.split(':');
  const firmware = FIRMWARES.find((f) => f === fw);
  if (!firmware) throw new InputError(ErrorCodes.USAGE, `--vm ${spec}: firmware must be one of ${FIRMWARES.join(', ')}`, 'vm');
  if (!/^[a-z0-9-]+$/i.test(host)) throw new InputError(ErrorCodes.USAGE, `--vm ${spec}: expected a host name like vm10 or vm10:uefi`, 'vm');
  return { host, firmware };
}

export async function run(args: LabArgs, io: Io): Promise<number> {
  if (args.action !== 'up' && args.action !== 'down') throw new InputError(ErrorCodes.USAGE, `expected 'lab up' or 'lab down', got ${JSON.stringify(args.action ?? '')}`, 'action');
  const root = packageRoot();
  const imageBuilt = existsSync(join(root, 'boot', 'lab', 'images', 'debian12.img.gz'));
  const vms = (args.vms.length ? args.vms : [imageBuilt ? 'vm14' : 'vm10']).map(parseVm);
  if (args.profile !== undefined && !args.install) throw new InputError(ErrorCodes.USAGE, '--profile names the profile to install: it needs --install', 'profile');
  const why = labUnavailable();
  if (why) {
    io.err(`3rc lab: ${why}`);
    return EXIT_FAIL;
  }
  if (args.action === 'down') {
    const gone = LabNetwork.destroyAll(PREFIX);
    io.out(gone.length ? `removed ${gone.join(', ')}` : 'no lab namespaces to remove');
    return EXIT_OK;
  }
  const disk = args.disk === undefined ? 8 : Number(args.disk);
  if (!Number.isInteger(disk) || disk < 1 || disk > 64) throw new InputError(ErrorCodes.USAGE, `--disk expects a size in GB from 1 to 64, got ${JSON.stringify(args.disk)}`, 'disk');
  if (!existsSync(join(root, 'boot', 'pxelinux.0'))) {
    io.err('3rc lab: boot/ has no boot files yet: run boot/fetch.sh (and scripts/lab-image.sh for the image profile)');
    return EXIT_FAIL;
  }
  if (LabNetwork.destroyAll(PREFIX).length) io.out('removed the namespaces of an earlier lab');
  const workDir = join(root, 'var', 'lab', 'run');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const pub = join(root, 'var', 'lab', 'ssh', 'id_ed25519.pub');
  const lab = await RunningLab.start({
    prefix: PREFIX, workDir, log: (l) => io.out(l),
    configChanges: args.pxe ? { servers: { dhcp: { ipxeScript: false } } } : {},
    ...(existsSync(pub) ? { sshPublicKey: readFileSync(pub, 'utf8') } : {}),
  });
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      io.out('lab: stopping (VMs, 3rc, namespaces)');
      void lab.stop().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    lab.server.once('exit', stop);
  });
  try {
    for (const { host, firmware } of vms) {
      lab.host(host);
      if (args.install) {
        // --profile wins; an arm64 VM otherwise installs the arm64 profile (the hosts' own are amd64).
        const profile = args.profile ?? (isArm64(firmware) ? ARM64_PROFILE : undefined);
        const r = await lab.api('PUT', `/hosts/${host}/boot`, { mode: 'install', ...(profile ? { profile } : {}), reason: '3rc lab up --install' });
        if (r.status !== 200) throw new Error(`could not flip ${host} to install: ${JSON.stringify(r.body)}`);
      }
      lab.bootVm({ host, firmware, diskGb: disk });
    }
  } catch (err) {
    await lab.stop();
    throw err;
  }
  io.out(`lab: running; Ctrl-C stops it. The lab's addresses exist only in its namespaces: run the CLI there, e.g.`);
  io.out(`  ip netns exec ${lab.net.serverNs} node bin/3rc.js hosts --config ${lab.configFile}`);
  await stopped;
  return EXIT_OK;
}
