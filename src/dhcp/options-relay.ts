/**
 * Relay agent information (option 82, RFC 3046): sub-options set by a relay (1 = circuit id,
 * 2 = remote id). A server echoes the option unchanged in its reply (RFC 3046 section 2.2), so
 * the raw bytes are what matters; the typed view is for logs and the boot trace.
 */
import { decodeSubOptions, encodeSubOptions, type SubOptions } from './options-pxe.js';
import { defineField, Opt } from './options.js';

/** Typed relay agent field, for getField/setField. */
export const RelayF = {
  agentInfo: defineField<SubOptions>({
    code: Opt.RELAY_AGENT_INFO,
    name: 'relay agent information',
    decode: (v) => decodeSubOptions(Opt.RELAY_AGENT_INFO, v),
    encode: (s) => encodeSubOptions(Opt.RELAY_AGENT_INFO, s, false),
  }),
};
