import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DhcpCodecError } from '../dhcp/errors.js';
import { TftpPacketError } from '../tftp/packet.js';
import { ErrorCodes, InputError } from './errors.js';

it('the codecs\' errors (raised by hostile packets) carry no stack frames; the others do; the limit is restored', () => {
  const limit = Error.stackTraceLimit;
  const tftp = new TftpPacketError('E_TFTP_TOO_SHORT', 'a 1-byte datagram');
  const dhcp = new DhcpCodecError('E_DHCP_OPTION_TRUNCATED', 'no magic cookie');
  const other = new InputError(ErrorCodes.USAGE, 'bad flag');
  assert.equal(Error.stackTraceLimit, limit);
  for (const e of [tftp, dhcp]) {
    assert.doesNotMatch(String(e.stack), /\n\s+at /, `${e.name}: ${e.stack}`);
    assert.match(String(e.stack), new RegExp(`^${e.name}: `));
    assert.ok(e instanceof Error);
  }
  assert.match(String(other.stack), /\n\s+at /);
});
