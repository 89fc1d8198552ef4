/**
 * libvirt domain XML of a P2V guest: the VM that replaces a captured physical host, with its
 * raw disk images, its NIC on a bridge and the host's firmware type; the lab's VMs use it too
 * (domainXml() in src/lab/hypervisor.ts). Pure string building.
 *
 * Boot order is network first, then the first disk: 3rc's BootTable decides at every boot
 * whether the VM installs (PXE) or boots its disk (PXE answers "local"), as for any host.
 */

export interface P2vDomainSpec {
  name: string;
  /** The NIC's MAC: the physical host's, so DHCP reservations and the BootTable still apply. */
  mac: string;
  cpus: number;
  memoryMb: number;
  /** Images in the physical host's disk order; target is the virtio name (vda, vdb, ...). Default format raw. */
  disks: { path: string; target: string; format?: 'raw' | 'qcow2'; cache?: 'unsafe' }[];
  bridge: string;
  /** kvm with hardware virtualisation, qemu (TCG) without. */
  domainType: 'kvm' | 'qemu';
  firmware: 'bios' | 'uefi';
  /** Serial console file, appended across restarts. */
  serialLog: string;
  /**
   * NIC model. Default virtio-non-transitional: Debian's iPXE ROM for virtio declares the modern
   * device id only, so a transitional NIC gets no boot ROM and cannot PXE-boot (lab-notes).
   */
  nicModel?: string;
  /** BIOS only: "no bootable device" retry delay (SeaBIOS retries PXE, then the disk). Default 5 s. */
  rebootTimeoutMs?: number;
}

const esc = (s: string | number): string =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

/** Numbers go into the XML as typed; a NaN or a fraction there is a caller's bug, not a VM. */
function int(name: string, n: number, min: number): number {
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`p2vDomainXml: ${name} must be an integer >= ${min}, got ${n}`);
  return n;
}

/** libvirt domain XML for a P2V guest. Every value is XML-escaped. */
export function p2vDomainXml(d: P2vDomainSpec): string {
  if (d.disks.length === 0) throw new RangeError('p2vDomainXml: at least one disk');
  const os =
    d.firmware === 'uefi'
      ? // Secure boot off: 3rc's network boot loaders (iPXE, pxelinux builds) are not signed,
        // and libvirt's firmware auto-selection may otherwise pick an enrolled-keys OVMF.
        `<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type><firmware><feature enabled='no' name='secure-boot'/></firmware></os>`
      : `<os><type arch='x86_64' machine='pc'>hvm</type><bios rebootTimeout='${int('rebootTimeoutMs', d.rebootTimeoutMs ?? 5000, 0)}'/></os>`;
  const disks = d.disks.map(
    (disk, i) => `    <disk type='file' device='disk'>
      <driver name='qemu' type='${esc(disk.format ?? 'raw')}'${disk.cache ? ` cache='${esc(disk.cache)}'` : ''}/>
      <source file='${esc(disk.path)}'/>
      <target dev='${esc(disk.target)}' bus='virtio'/>${i === 0 ? "\n      <boot order='2'/>" : ''}
    </disk>
`,
  );
  return `<domain type='${esc(d.domainType)}'>
  <name>${esc(d.name)}</name>
  <memory unit='MiB'>${int('memoryMb', d.memoryMb, 1)}</memory>
  <vcpu>${int('cpus', d.cpus, 1)}</vcpu>
  ${os}
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
${disks.join('')}    <interface type='bridge'>
      <source bridge='${esc(d.bridge)}'/>
      <mac address='${esc(d.mac)}'/>
      <model type='${esc(d.nicModel ?? 'virtio-non-transitional')}'/>
      <boot order='1'/>
    </interface>
    <serial type='file'><source path='${esc(d.serialLog)}' append='on'/><target port='0'/></serial>
    <console type='file'><source path='${esc(d.serialLog)}' append='on'/><target type='serial' port='0'/></console>
  </devices>
</domain>
`;
}
