/**
 * Errors of the DHCP codec, with stable codes. The codec raises only DhcpCodecError (property
 * tests check that arbitrary bytes never raise anything else); callers branch on `code`.
 *
 * These codes belong in src/lib/errors.ts (the central list) once the lead merges them; they
 * live here because the DHCP engineer owns only src/dhcp/.
 */
export const DhcpErrorCodes = {
  /** Fewer bytes than the 236-byte fixed header plus the 4-byte magic cookie. */
  SHORT: 'E_DHCP_SHORT',
  /** op is neither BOOTREQUEST (1) nor BOOTREPLY (2). */
  BAD_OP: 'E_DHCP_BAD_OP',
  /** hlen larger than the 16-byte chaddr field. */
  BAD_HLEN: 'E_DHCP_BAD_HLEN',
  /** The 4 bytes after the header are not 99.130.83.99 (RFC 2131 section 3). */
  BAD_COOKIE: 'E_DHCP_BAD_COOKIE',
  /** An option's length byte or data runs past the end of its field. */
  OPTION_TRUNCATED: 'E_DHCP_OPTION_TRUNCATED',
  /** An option's length is not what RFC 2132 allows for it. */
  OPTION_LENGTH: 'E_DHCP_OPTION_LENGTH',
  /** An option's data is malformed (bad name compression, bad route prefix, ...). */
  OPTION_VALUE: 'E_DHCP_OPTION_VALUE',
  /** Option 52 (overload) malformed, or present inside sname/file (RFC 2131 section 4.1). */
  BAD_OVERLOAD: 'E_DHCP_BAD_OVERLOAD',
  /** A packet that cannot be encoded (a field too long, a value out of range). */
  ENCODE: 'E_DHCP_ENCODE',
} as const;

/** One of DhcpErrorCodes. */
export type DhcpErrorCode = (typeof DhcpErrorCodes)[keyof typeof DhcpErrorCodes];

/** The only error the DHCP codec raises. */
export class DhcpCodecError extends Error {
  readonly code: DhcpErrorCode;
  /** Option code concerned, when there is one. */
  readonly option: number | undefined;
  constructor(code: DhcpErrorCode, message: string, opts: { option?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.option = opts.option;
    this.name = 'DhcpCodecError';
  }
}
