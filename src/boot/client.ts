/**
 * Who is asking to boot: the client's architecture (DHCP option 93, RFC 4578 section 2.1), its
 * firmware kind and its address family; and the one table from architecture to first-stage
 * loader. DHCP builds a {@link BootClient} from a request; the booter (booter.ts) answers it.
 * Pure: no I/O.
 */

/** RFC 4578 section 2.1 and the IANA "Processor Architecture Types" registry: the option 93 values 3rc names. */
export const ClientArch = {
  BIOS: 0,
  EFI_IA32: 6,
  EFI_X64: 7,
  EFI_BC: 9,
  EFI_ARM32: 10,
  EFI_ARM64: 11,
  EFI_IA32_HTTP: 15,
  EFI_X64_HTTP: 16,
  EFI_ARM32_HTTP: 18,
  EFI_ARM64_HTTP: 19,
} as const;

/** BIOS PXE ROM, UEFI PXE, UEFI HTTP boot, or iPXE (whatever firmware loaded it). */
export type Firmware = 'bios' | 'uefi-pxe' | 'uefi-http' | 'ipxe';

/**
 * The configured boot files (servers.dhcp.bootFiles, overridable per profile by `loaders`), one
 * per kind of first-stage loader: PXE slots hold a TFTP path, HTTP slots a path under the boot
 * root that the client gets as a full http:// URL (UEFI HTTP Boot).
 */
export const LOADER_SLOTS = ['bios', 'efiIa32', 'efiX64', 'efiArm32', 'efiArm64', 'httpIa32', 'httpX64', 'httpArm32', 'httpArm64'] as const;
export type LoaderSlot = (typeof LOADER_SLOTS)[number];

export interface ArchInfo {
  code: number;
  /** Short name for traces and the dashboard. */
  name: string;
  firmware: Exclude<Firmware, 'ipxe'>;
  /** The configured boot file it loads (unset in the config: the client gets no boot file). */
  loader: LoaderSlot;
}

/**
 * The architecture -> loader table, the only one. 9 (EFI byte code) is what several x64 UEFI
 * ROMs send instead of 7 (RFC 4578 errata 4624), so both load the x64 EFI loader. The UEFI HTTP
 * types (15, 16, 18, 19; UEFI spec 2.x section 24.7) get the URL of an EFI binary instead of a
 * TFTP path. Every row names a slot; a slot the config leaves unset means no boot file (and a
 * trace reason naming the key), never another architecture's loader.
 */
export const ARCHES: readonly ArchInfo[] = [
  { code: ClientArch.BIOS, name: 'BIOS', firmware: 'bios', loader: 'bios' },
  { code: ClientArch.EFI_IA32, name: 'UEFI ia32', firmware: 'uefi-pxe', loader: 'efiIa32' },
  { code: ClientArch.EFI_X64, name: 'UEFI x64', firmware: 'uefi-pxe', loader: 'efiX64' },
  { code: ClientArch.EFI_BC, name: 'UEFI x64', firmware: 'uefi-pxe', loader: 'efiX64' },
  { code: ClientArch.EFI_ARM32, name: 'UEFI arm32', firmware: 'uefi-pxe', loader: 'efiArm32' },
  { code: ClientArch.EFI_ARM64, name: 'UEFI arm64', firmware: 'uefi-pxe', loader: 'efiArm64' },
  { code: ClientArch.EFI_IA32_HTTP, name: 'UEFI ia32 HTTP', firmware: 'uefi-http', loader: 'httpIa32' },
  { code: ClientArch.EFI_X64_HTTP, name: 'UEFI x64 HTTP', firmware: 'uefi-http', loader: 'httpX64' },
  { code: ClientArch.EFI_ARM32_HTTP, name: 'UEFI arm32 HTTP', firmware: 'uefi-http', loader: 'httpArm32' },
  { code: ClientArch.EFI_ARM64_HTTP, name: 'UEFI arm64 HTTP', firmware: 'uefi-http', loader: 'httpArm64' },
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

/** The address family a client asked over (its URLs name 3rc's address of that family). */
export type AddressFamily = 'ipv4' | 'ipv6';

/** A client asking what to boot. */
export interface BootClient {
  /** Option 93 (first value), or null when the client sent none (a plain DHCP client). */
  arch: number | null;
  firmware: Firmware;
  family: AddressFamily;
}

const VENDOR_ARCH_RE = /^(?:PXEClient|HTTPClient):Arch:(\d{5})(?::|$)/;

/**
 * The architecture a vendor class (option 60) names: PXE 2.1 and UEFI write
 * `PXEClient:Arch:00007:UNDI:003016` and `HTTPClient:Arch:00016:UNDI:003001`. Null when it names none.
 */
export function vendorClassArch(vendorClass: string | undefined): number | null {
  const m = vendorClass === undefined ? null : VENDOR_ARCH_RE.exec(vendorClass);
  return m ? Number(m[1]) : null;
}

/**
 * A client from what its DHCP request says. The architecture is option 93, else the `Arch:`
 * field of its vendor class (UEFI firmware sends both; the vendor class alone is enough). The
 * firmware: iPXE when it says so (user class or option 175); UEFI HTTP Boot when the vendor class
 * starts with `HTTPClient` or the architecture is an HTTP one; else the firmware of its
 * architecture, no architecture at all being answered as BIOS (an installer's own DHCP client).
 * An HTTPClient whose architecture is not an HTTP type keeps firmware `uefi-http`, and the booter
 * then gives it no boot file rather than a TFTP path it cannot use (booter.ts bootFile).
 */
export function dhcpClient(arch: number | null, ipxe: boolean, vendorClass?: string): BootClient {
  const code = arch ?? vendorClassArch(vendorClass);
  const row = archInfo(code ?? ClientArch.BIOS);
  let firmware: Firmware;
  if (ipxe) firmware = 'ipxe';
  else if (vendorClass?.startsWith('HTTPClient') || row?.firmware === 'uefi-http') firmware = 'uefi-http';
  else firmware = row?.firmware ?? 'uefi-pxe';
  return { arch: code, firmware, family: 'ipv4' };
}
