/**
 * qemu VMs for the lab: a NIC on the lab bridge, PXE first, then the disk, serial console to a
 * file. TCG only (lab-notes: /dev/kvm may exist but is not usable here).
 *
 * Firmware:
 * - bios: SeaBIOS with the NIC's iPXE ROM (Debian's ipxe-qemu). The virtio ROM declares the modern
 *   device id, so the NIC is virtio-net-pci with disable-legacy=on (lab-notes).
 * - uefi: OVMF with its own network stack (VirtioNetDxe) and no option ROM, so it asks DHCP with
 *   architecture 7 like a server's UEFI firmware does and loads syslinux.efi over TFTP. A fresh
 *   copy of OVMF_VARS per VM; boot order from bootindex (NIC, then disk).
 * - uefi-http: the same OVMF doing UEFI HTTP Boot. Debian 12's OVMF makes PXEv4, PXEv6, HTTPv4
 *   and HTTPv6 boot options per NIC, PXEv4 first (the uefi kind boots that way); the fw_cfg knobs
 *   `opt/org.tianocore/IPv4PXESupport` and `IPv6PXESupport` (edk2 since 2020, honoured by its
 *   2022.11) set to `n` stop it from making the PXE ones, so Boot0001 is "UEFI HTTPv4": DHCP with
 *   vendor class `HTTPClient:Arch:00016`, the loader's URL from option 67 fetched over HTTP, no
 *   TFTP at all (test/lab/pxe-firmware.test.ts). A fresh variable store matters: the knobs stop
 *   new PXE options from being made, they do not remove ones already stored.
 * - uefi-pxe6: the same OVMF with only IPv4PXESupport set to `n`: Boot0001 is "UEFI PXEv6", DHCPv6
 *   (after the router advertisement's M flag) with architecture 7, the loader from option 59
 *   (`tftp://[addr]/file`) over TFTP on IPv6 (issue 23).
 * - uefi-http6: uefi-http's knobs on an IPv6-only provisioning segment (no DHCPv4 answer): no
 *   fw_cfg knob leaves out HTTPv4 alone, so Boot0001 "UEFI HTTPv4" asks DHCP as HTTPClient until
 *   edk2 gives up (HttpBootDxe: 4 Discovers, 4 + 8 + 16 + 32 s = 60 s, mHttpDhcpTimeout), then
 *   Boot0002 "UEFI HTTPv6" does DHCPv6 (after the RA's M flag) with architecture 16 and vendor
 *   class 343 `HTTPClient:Arch:00016`, and boots the offer that carries option 16 `HTTPClient`
 *   and option 59 (`http://[addr]/...`, fetched over HTTP on IPv6). The kind differs from
 *   uefi-http only in name: the segment, not the firmware, makes it IPv6 (issue 23).
 * - arm64, arm64-http: qemu-system-aarch64 -M virt with AAVMF (qemu-efi-aarch64, edk2 ArmVirtQemu:
 *   code and a per-VM copy of its variables, both 64 MiB pflash), the same NIC without option ROM
 *   (AAVMF's VirtioNetDxe), serial console on the PL011 (ttyAMA0). AAVMF makes the same PXEv4,
 *   PXEv6, HTTPv4, HTTPv6 boot options as OVMF and honours the same fw_cfg knobs, so arm64-http is
 *   uefi-http's recipe (DHCP vendor class `HTTPClient:Arch:00019`; Debian 12's grubaa64.efi then
 *   stops at its prompt: test/lab/arm64.test.ts). CPU cortex-a57 (ARMv8.0, all
 *   Debian 12 needs): as fast under TCG as `max,pauth-impdef=on` (power-on to preseed 145-176 s
 *   each, two VMs side by side), while plain `max` emulates QARMA pointer authentication in every
 *   function of the kernel and took 300 s against 170 s; a fixed model also stays the same
 *   across qemu versions.
 * - secureboot: OVMF with Secure Boot enforced and Microsoft's keys enrolled (Debian's ovmf:
 *   OVMF_CODE_4M.secboot.fd with a per-VM copy of OVMF_VARS_4M.ms.fd), for the signed chain
 *   shim -> GRUB -> kernel. Quirks (qemu 7.2, edk2 2022.11): the secboot code needs SMM; with
 *   `smm=off` it hangs silently (no serial output at all), so `smm=on` is explicit (q35's `auto`
 *   is on under TCG). `cfi.pflash01 secure=on` lets only SMM write the variable flash; OVMF
 *   boots without it too, but then the OS could rewrite the keys. The NIC has `romfile=` as for
 *   uefi, and here it matters: OVMF does NOT refuse qemu's unsigned iPXE ROM under Secure Boot
 *   (its option-ROM verification policy is "always execute"), so with the ROM the NIC would
 *   boot as iPXE, not through the firmware's PXE with architecture 7. Enforcement shows even
 *   offline: the unsigned built-in shell is refused ("BdsDxe: failed to start Boot0001 "EFI
 *   Internal Shell" from Fv(...)/FvFile(...): Security Violation").
 *
 * Monitor: none by default. With `monitorSocket`, the human monitor listens on that unix socket
 * (server, nowait), which makes the VM's power controllable like a physical host's BMC:
 * `echo system_reset | socat - UNIX-CONNECT:<path>` power-cycles it, `echo quit | socat ...`
 * powers it off.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Every firmware kind a lab VM can have (`3rc lab up --vm NAME:KIND`). */
export const FIRMWARES = ['bios', 'uefi', 'uefi-http', 'uefi-http6', 'uefi-pxe6', 'secureboot', 'arm64', 'arm64-http'] as const;
export type Firmware = (typeof FIRMWARES)[number];

/** OVMF or AAVMF (anything but SeaBIOS): pflash code and variables, no NIC option ROM. */
export function isUefi(firmware: Firmware): boolean {
  return firmware !== 'bios';
}

/** An arm64 VM (qemu-system-aarch64, AAVMF). */
export function isArm64(firmware: Firmware): boolean {
  return firmware.startsWith('arm64');
}

/** A kind told to make only HTTP boot options (uefi-http, uefi-http6, arm64-http). */
export function isHttpOnly(firmware: Firmware): boolean {
  return firmware.endsWith('-http') || firmware === 'uefi-http6';
}

/** fw_cfg knob that leaves OVMF without its PXEv4 boot option: PXEv6 is Boot0001 (see the header). */
export const OVMF_NO_PXE4 = 'name=opt/org.tianocore/IPv4PXESupport,string=n';

/** fw_cfg knobs that leave OVMF only its HTTP boot options (see the header). */
export const OVMF_HTTP_ONLY = ['opt/org.tianocore/IPv4PXESupport', 'opt/org.tianocore/IPv6PXESupport'].map((n) => `name=${n},string=n`);

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
export const AAVMF_CODE = '/usr/share/AAVMF/AAVMF_CODE.fd';
export const AAVMF_VARS = '/usr/share/AAVMF/AAVMF_VARS.fd';
export const ARM64_CPU = 'cortex-a57';
/** Secure Boot: the SMM build and the variable template with Microsoft's keys, SB enabled. */
export const OVMF_SECBOOT = { code: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd' };

/** The firmware image a kind runs, and the variable store a VM's copy starts from (uefi kinds). */
function uefiImages(firmware: Firmware): { code: string; vars: string } {
  if (isArm64(firmware)) return { code: AAVMF_CODE, vars: AAVMF_VARS };
  return firmware === 'secureboot' ? OVMF_SECBOOT : { code: OVMF_CODE, vars: OVMF_VARS };
}

export interface VmSpec {
  name: string;
  mac: string;
  tap: string;
  firmware: Firmware;
  /** Raw or qcow2 disk image (created by createDisk); none: a diskless PXE client. */
  disk?: string;
  memoryMb: number;
  serialLog: string;
  /** Where this VM's OVMF variables live (uefi and uefi-http only). */
  varsFile?: string;
  /** Boot the network first (default), or only the disk. */
  boot: 'network' | 'disk';
  /** Exit instead of rebooting (a test sees each reboot as an exit). Default false. */
  noReboot?: boolean;
  /** Direct kernel boot (skips the firmware's PXE), for installer tests. */
  kernel?: { kernel: string; initrd: string; append: string };
  /** A unix socket for qemu's monitor (`-monitor unix:<path>,server,nowait`); none: no monitor. */
  monitorSocket?: string;
}

/** The qemu command line for a spec (pure: no file is touched). */
export function qemuArgs(spec: VmSpec): string[] {
  const a = ['-name', spec.name, '-accel', 'tcg', '-m', String(spec.memoryMb), '-smp', '1', '-display', 'none', '-monitor', spec.monitorSocket ? `unix:${spec.monitorSocket},server,nowait` : 'none', '-nodefaults'];
  a.push('-serial', `file:${spec.serialLog}`);
  const uefi = isUefi(spec.firmware);
  const sb = spec.firmware === 'secureboot';
  a.push('-machine', isArm64(spec.firmware) ? 'virt' : uefi ? (sb ? 'q35,smm=on' : 'q35') : 'pc');
  if (isArm64(spec.firmware)) a.push('-cpu', ARM64_CPU);
  if (sb) a.push('-global', 'driver=cfi.pflash01,property=secure,value=on');
  if (uefi) {
    if (!spec.varsFile) throw new Error(`VM ${spec.name}: ${spec.firmware} needs a varsFile`);
    a.push('-drive', `if=pflash,format=raw,readonly=on,file=${uefiImages(spec.firmware).code}`, '-drive', `if=pflash,format=raw,file=${spec.varsFile}`);
  }
  if (isHttpOnly(spec.firmware)) for (const knob of OVMF_HTTP_ONLY) a.push('-fw_cfg', knob);
  if (spec.firmware === 'uefi-pxe6') a.push('-fw_cfg', OVMF_NO_PXE4);
  const netIndex = spec.boot === 'network' ? 1 : 9;
  const nic = [`virtio-net-pci`, 'disable-legacy=on', 'netdev=n0', `mac=${spec.mac}`, `bootindex=${netIndex}`];
  if (uefi) nic.push('romfile=');
  a.push('-netdev', `tap,id=n0,ifname=${spec.tap},script=no,downscript=no`, '-device', nic.join(','));
  if (spec.disk) {
    const fmt = spec.disk.endsWith('.qcow2') ? 'qcow2' : 'raw';
    a.push('-drive', `if=none,id=d0,format=${fmt},file=${spec.disk},cache=unsafe`, '-device', `virtio-blk-pci,drive=d0,bootindex=${spec.boot === 'network' ? 2 : 1}`);
  }
  if (spec.kernel) a.push('-kernel', spec.kernel.kernel, '-initrd', spec.kernel.initrd, '-append', spec.kernel.append);
  if (spec.noReboot) a.push('-no-reboot');
  return a;
}

/** A blank disk image of `sizeGb` (qcow2, grows as written). */
export function createDisk(path: string, sizeGb: number): void {
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, `${sizeGb}G`], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A fresh UEFI variable store for one VM (OVMF's; with Microsoft's keys for secureboot; AAVMF's for arm64). */
export function createVars(path: string, firmware: Firmware = 'uefi'): void {
  if (!existsSync(path)) copyFileSync(uefiImages(firmware).vars, path);
}

/** The qemu binary of a firmware kind. */
export function qemuBinary(firmware: Firmware): string {
  return isArm64(firmware) ? 'qemu-system-aarch64' : 'qemu-system-x86_64';
}

export interface VmProcess {
  spec: VmSpec;
  proc: ChildProcess;
  startedAt: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The serial console so far (escape sequences stripped). */
  serial(): string;
  kill(signal?: NodeJS.Signals): void;
}

/** Strips terminal escape sequences and carriage returns from a serial log. */
export function cleanSerial(raw: string): string {
  // eslint-disable-next-line no-control-regex
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[()][0-9A-Za-z]/g, '').replace(/\r/g, '');
}

/**
 * Starts the VM with `runner` (the lab runs qemu inside the switch namespace so that it can open
 * the tap device there).
 */
export function startVm(spec: VmSpec, runner: (cmd: string, args: string[]) => ChildProcess): VmProcess {
  const proc = runner(qemuBinary(spec.firmware), qemuArgs(spec));
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      if (code) process.stderr.write(`qemu ${spec.name} exited ${code}: ${stderr}\n`);
      resolve({ code, signal });
    });
  });
  return {
    spec,
    proc,
    startedAt: Date.now(),
    exited,
    serial: () => {
      try {
        return statSync(spec.serialLog).size ? cleanSerial(readFileSync(spec.serialLog, 'latin1')) : '';
      } catch {
        return '';
      }
    },
    kill: (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
}
