/**
 * Errors of the DHCPv6 codec. The codec raises only Dhcp6CodecError (the property test checks
 * that arbitrary bytes never raise anything else); callers branch on `code`, one of
 * Dhcp6ErrorCodes, listed in src/lib/errors.ts with every other stable code.
 */
import { Dhcp6ErrorCodes, ThreeRcError } from '../lib/errors.js';

export { Dhcp6ErrorCodes };

export type Dhcp6ErrorCode = (typeof Dhcp6ErrorCodes)[keyof typeof Dhcp6ErrorCodes];

/** The only error the DHCPv6 codec raises. */
export class Dhcp6CodecError extends ThreeRcError {
  static override readonly stackless = true;
  declare readonly code: Dhcp6ErrorCode;
  /** Option code concerned, when there is one. */
  readonly option: number | undefined;
  constructor(code: Dhcp6ErrorCode, message: string, opts: { option?: number; cause?: unknown } = {}) {
    super(code, message, { cause: opts.cause });
    this.option = opts.option;
  }
}
