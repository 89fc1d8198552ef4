/**
 * PXE and iPXE options: client architecture (93), network interface (94) and machine UUID (97)
 * from RFC 4578; vendor class (60) and the PXE vendor-encapsulated options (43) from the Intel
 * PXE specification 2.1; user class (77, RFC 3004) and iPXE's encapsulated options (175).
 */
import { DhcpCodecError, DhcpErrorCodes } from './errors.js';
import { defineField, latin1, lengthError, Opt, textField, type Field } from './options.js';

/** Sub-options of an encapsulated option (43, 82, 175): code -> raw bytes, in order. */
export type SubOptions = Map<number, Uint8Array>;

/**
 * Reads TLV sub-options (RFC 2132 section 8.4 format, as used by 43, 82 and 175). Pad (0) is
 * skipped and END (255) stops, as in PXE's option 43; a sub-option running past the end raises.
 */
export function decodeSubOptions(code: number, v: Uint8Array): SubOptions {
  const out: SubOptions = new Map();
  let i = 0;
  while (i < v.length) {
    const sub = v[i]!;
    if (sub === 0) {
      i++;
      continue;
    }
    if (sub === 255) break;
    if (i + 1 >= v.length || i + 2 + v[i + 1]! > v.length) {
      throw new DhcpCodecError(DhcpErrorCodes.OPTION_TRUNCATED, `option ${code}: sub-option ${sub} at offset ${i} is truncated`, { option: code });
    }
    out.set(sub, v.slice(i + 2, i + 2 + v[i + 1]!));
    i += 2 + v[i + 1]!;
  }
  return out;
}

/** Writes TLV sub-options; `end` appends 255 (PXE's option 43 wants it, RFC 3046's 82 does not). */
export function encodeSubOptions(code: number, subs: SubOptions, end: boolean): Uint8Array {
  const parts: number[] = [];
  for (const [sub, val] of subs) {
    if (sub <= 0 || sub >= 255 || val.length > 255) throw new DhcpCodecError(DhcpErrorCodes.ENCODE, `option ${code}: sub-option ${sub} of ${val.length} bytes cannot be encoded`, { option: code });
    parts.push(sub, val.length, ...val);
  }
  if (end) parts.push(255);
  return Uint8Array.from(parts);
}

/* Option 93 values and the architecture -> loader table: boot/client.ts. */

/** PXE spec 2.1, option 43 sub-option 6: bit 3 = "boot file name given: download it, no discovery". */
export const PXE_DISCOVERY_CONTROL = 6;
/** iPXE option 175 sub-option 176: 1 = do not wait for a ProxyDHCP offer (lab-notes: saves ~3 s). */
export const IPXE_NO_PXEDHCP = 176;

function subOptionsField(code: number, name: string, end: boolean): Field<SubOptions> {
  return defineField({ code, name, decode: (v) => decodeSubOptions(code, v), encode: (s) => encodeSubOptions(code, s, end) });
}

/** Typed PXE/iPXE fields, for getField/setField. */
export const PxeF = {
  /** Option 43; for PXEClient it holds PXE sub-options (PXE spec 2.1 table 2-1). */
  vendorSpecific: subOptionsField(Opt.VENDOR_SPECIFIC, 'vendor specific', true),
  vendorClass: textField(Opt.VENDOR_CLASS, 'vendor class identifier'),
  /**
   * Option 77. RFC 3004 defines a list of length-prefixed strings, but iPXE (and gPXE before it)
   * send the bare text `iPXE`; the raw text is kept and userClasses() interprets it.
   */
  userClass: textField(Opt.USER_CLASS, 'user class'),
  /** Option 93: a list of 16-bit architecture types (RFC 4578 section 2.1). */
  clientArch: defineField<number[]>({
    code: Opt.CLIENT_ARCH,
    name: 'client system architecture',
    decode(v) {
      if (v.length === 0 || v.length % 2 !== 0) throw lengthError(Opt.CLIENT_ARCH, 'client system architecture', v.length, 'a non-zero multiple of 2');
      const out: number[] = [];
      for (let i = 0; i < v.length; i += 2) out.push((v[i]! << 8) | v[i + 1]!);
      return out;
    },
    encode: (archs) => Uint8Array.from(archs.flatMap((a) => [(a >> 8) & 255, a & 255])),
  }),
  /** Option 94: type (1 = UNDI), major, minor (RFC 4578 section 2.2). */
  clientNdi: defineField<{ type: number; major: number; minor: number }>({
    code: Opt.CLIENT_NDI,
    name: 'client network interface identifier',
    decode(v) {
      if (v.length !== 3) throw lengthError(Opt.CLIENT_NDI, 'client network interface identifier', v.length, '3');
      return { type: v[0]!, major: v[1]!, minor: v[2]! };
    },
    encode: ({ type, major, minor }) => Uint8Array.of(type, major, minor),
  }),
  /**
   * Option 97: type 0 then a 16-byte UUID (RFC 4578 section 2.3). Firmware exists that sends
   * other lengths, and the server only echoes it, so any non-empty value is accepted.
   */
  clientUuid: defineField<{ type: number; uuid: Uint8Array }>({
    code: Opt.CLIENT_UUID,
    name: 'client machine identifier',
    decode(v) {
      if (v.length === 0) throw lengthError(Opt.CLIENT_UUID, 'client machine identifier', 0, 'at least 1');
      return { type: v[0]!, uuid: v.subarray(1) };
    },
    encode: ({ type, uuid }) => Uint8Array.of(type, ...uuid),
  }),
  /** Option 175: iPXE's encapsulated options (feature flags, no-pxedhcp, ...). */
  ipxe: subOptionsField(Opt.IPXE_ENCAP, 'iPXE encapsulated options', false),
};

/**
 * User classes of option 77: the RFC 3004 list when the bytes parse as one, else the whole
 * value as a single class (iPXE's `iPXE`).
 */
export function userClasses(v: Uint8Array): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i]!;
    if (len === 0 || i + 1 + len > v.length) return [latin1(v)];
    out.push(latin1(v.subarray(i + 1, i + 1 + len)));
    i += 1 + len;
  }
  return out.length > 0 ? out : [latin1(v)];
}
