/**
 * Who is asking to boot: the client's architecture (DHCP option 93, RFC 4578 section 2.1), its
 * firmware kind and its address family; and the one table from architecture to first-stage
 * loader. DHCP builds a {@link BootClient} from a request; the booter (booter.ts) answers it.
 * Pure: no I/O.
 */

/** RFC 4578 section 2.1 (IANA "Processor Architecture Types"): the option 93 values 3rc names. */
export const ClientArch = {
  BIOS: 0,
  EFI_IA32: 6,
  EFI_X64: 7,
  EFI_BC: 9,
  EFI_ARM32: 10,
  EFI_ARM64: 11,
  EFI_IA32_HTTP: 15,
  EFI_X64_HTTP: 16,
  EFI_ARM64_HTTP: 19,
} as const;

/** BIOS PXE ROM, UEFI PXE, UEFI HTTP boot, or iPXE (whatever firmware loaded it). */
export type Firmware = 'bios' | 'uefi-pxe' | 'uefi-http' | 'ipxe';

/** Which configured boot file (servers.dhcp.bootFiles) a client architecture loads first. */
export type LoaderSlot = 'bios' | 'efiX64';

export interface ArchInfo {
  code: number;
  /** Short name for traces and the dashboard. */
  name: string;
  firmware: Exclude<Firmware, 'ipxe'>;
  /** Null: 3rc has no loader for it (the client gets no boot file). */
  loader: LoaderSlot | null;
}

/**
 * The architecture -> loader table, the only one. 9 (EFI byte code) is what several x64 UEFI
 * ROMs send instead of 7 (RFC 4578 errata 4624), so both load the x64 EFI loader. The UEFI HTTP
 * types (15, 16, 19) want an HTTP URL to an EFI binary: not offered (yet), so no boot file.
 */
export const ARCHES: readonly ArchInfo[] = [
  { code: ClientArch.BIOS, name: 'BIOS', firmware: 'bios', loader: 'bios' },
  { code: ClientArch.EFI_IA32, name: 'UEFI ia32', firmware: 'uefi-pxe', loader: null },
  { code: ClientArch.EFI_X64, name: 'UEFI x64', firmware: 'uefi-pxe', loader: 'efiX64' },
  { code: ClientArch.EFI_BC, name: 'UEFI x64', firmware: 'uefi-pxe', loader: 'efiX64' },
  { code: ClientArch.EFI_ARM32, name: 'UEFI arm32', firmware: 'uefi-pxe', loader: null },
  { code: ClientArch.EFI_ARM64, name: 'UEFI arm64', firmware: 'uefi-pxe', loader: null },
  { code: ClientArch.EFI_IA32_HTTP, name: 'UEFI ia32 HTTP', firmware: 'uefi-http', loader: null },
  { code: ClientArch.EFI_X64_HTTP, name: 'UEFI x64 HTTP', firmware: 'uefi-http', loader: null },
  { code: ClientArch.EFI_ARM64_HTTP, name: 'UEFI arm64 HTTP', firmware: 'uefi-http', loader: null },
];

const BY_CODE = new Map(ARCHES.map((a) => [a.code, a]));

/** The table's row for an option 93 value, or undefined for one 3rc does not know. */
export function archInfo(code: number): ArchInfo | undefined {
  return BY_CODE.get(code);
}

/** `BIOS`, `UEFI x64`, ... or `arch N` for a value 3rc does not name. */
export function archName(code: number): string {
  return BY_CODE.get(code)?.name ?? `arch ${code}`;
}

/** A client asking what to boot. */
export interface BootClient {
  /** Option 93 (first value), or null when the client sent none (a plain DHCP client). */
  arch: number | null;
  firmware: Firmware;
  family: 'ipv4' | 'ipv6';
}

/**
 * A client from what its DHCP request says: iPXE when it says so (user class or option 175),
 * else the firmware of its architecture; no option 93 is answered as BIOS (an installer's own
 * DHCP client, say).
 */
export function dhcpClient(arch: number | null, ipxe: boolean): BootClient {
  const firmware: Firmware = ipxe ? 'ipxe' : (archInfo(arch ?? ClientArch.BIOS)?.firmware ?? 'uefi-pxe');
  return { arch, firmware, family: 'ipv4' };
}
