/**
 * Errors of the DHCP codec. The codec raises only DhcpCodecError (property tests check that
 * arbitrary bytes never raise anything else); callers branch on `code`, one of DhcpErrorCodes,
 * which src/lib/errors.ts lists with every other stable code.
 */
import { DhcpErrorCodes, ThreeRcError } from '../lib/errors.js';

export { DhcpErrorCodes };

/** One of DhcpErrorCodes. */
export type DhcpErrorCode = (typeof DhcpErrorCodes)[keyof typeof DhcpErrorCodes];

/** The only error the DHCP codec raises. */
export class DhcpCodecError extends ThreeRcError {
  static override readonly stackless = true;
  declare readonly code: DhcpErrorCode;
  /** Option code concerned, when there is one. */
  readonly option: number | undefined;
  constructor(code: DhcpErrorCode, message: string, opts: { option?: number; cause?: unknown } = {}) {
    super(code, message, { cause: opts.cause });
    this.option = opts.option;
  }
}
