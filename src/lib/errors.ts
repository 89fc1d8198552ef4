/**
 * Every error 3rc raises on purpose, in one place. Branch on `code`, never on the message:
 * messages are for operators and may be reworded; codes are stable.
 */
export const ErrorCodes = {
  CONFIG_READ: 'E_CONFIG_READ',
  CONFIG_SYNTAX: 'E_CONFIG_SYNTAX',
  CONFIG_INVALID: 'E_CONFIG_INVALID',
  STORE_LOCKED: 'E_STORE_LOCKED',
  STORE_OPEN: 'E_STORE_OPEN',
  STORE_SCHEMA: 'E_STORE_SCHEMA',
  STORE_CLOSED: 'E_STORE_CLOSED',
  /** etcd did not answer (or kept refusing) within the retry window: the write may not be applied. */
  STORE_UNAVAILABLE: 'E_STORE_UNAVAILABLE',
  /** A file given to `3rc restore` (or a backup just written) is not a complete 3rc backup, or not of this store's kind. */
  BACKUP: 'E_BACKUP',
  /** Redundant 3rc: this instance is a follower (or was deposed); the change must go to the leader. */
  NOT_LEADER: 'E_NOT_LEADER',
  BIND: 'E_BIND',
  UNKNOWN_HOST: 'E_UNKNOWN_HOST',
  UNKNOWN_PROFILE: 'E_UNKNOWN_PROFILE',
  BAD_MAC: 'E_BAD_MAC',
  API: 'E_API',
  TEMPLATE: 'E_TEMPLATE',
  HA_INACTIVE: 'E_HA_INACTIVE',
  USAGE: 'E_USAGE',
  /** A P2V request that cannot go ahead now (a capture runs already, the host is a VM, ...). */
  P2V: 'E_P2V',
  /** `3rc import`: an input file that cannot be read, or nothing in it that 3rc can use. */
  IMPORT: 'E_IMPORT',
  /** `3rc hv drain`: another drain of that hypervisor runs already. */
  DRAIN: 'E_DRAIN',
} as const;

// Codecs and drivers keep their own error classes (a decoder raises exactly one kind of error),
// but their codes are listed here with the rest, so that every stable code is in one place.

/** Stable codes of the DHCP codec (DhcpCodecError). */
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

/** Stable codes of the DHCPv6 codec (Dhcp6CodecError, src/dhcp6/errors.ts). */
export const Dhcp6ErrorCodes = {
  /** Fewer bytes than a message header (4) or a relay header (34). */
  SHORT: 'E_DHCP6_SHORT',
  /** An option's 4-byte header or its data runs past the end of its area. */
  OPTION_TRUNCATED: 'E_DHCP6_OPTION_TRUNCATED',
  /** An option's length is not what its RFC allows. */
  OPTION_LENGTH: 'E_DHCP6_OPTION_LENGTH',
  /** An option's data is malformed (bad domain name, DUID too long, relay without a message, ...). */
  OPTION_VALUE: 'E_DHCP6_OPTION_VALUE',
  /** Relay messages nested deeper than the hop limit (RFC 8415 section 7.6: 8). */
  TOO_DEEP: 'E_DHCP6_TOO_DEEP',
  /** A message that cannot be encoded (a value out of range). */
  ENCODE: 'E_DHCP6_ENCODE',
} as const;

/** Stable codes of the TFTP packet decoder (TftpPacketError). */
export const PacketErrorCodes = {
  TOO_SHORT: 'E_TFTP_TOO_SHORT',
  BAD_OPCODE: 'E_TFTP_BAD_OPCODE',
  UNTERMINATED: 'E_TFTP_UNTERMINATED',
  BAD_OPTIONS: 'E_TFTP_BAD_OPTIONS',
  TOO_LONG: 'E_TFTP_TOO_LONG',
} as const;

/** Stable codes of hypervisor driver failures (DriverError). */
export const DriverErrorCodes = {
  /** The hypervisor cannot be reached (down, partitioned, SSH refused). */
  UNREACHABLE: 'E_HV_UNREACHABLE',
  /** The hypervisor does not know this VM. */
  NO_SUCH_VM: 'E_HV_NO_SUCH_VM',
  /** start on a hypervisor where it already runs. */
  ALREADY_RUNNING: 'E_HV_ALREADY_RUNNING',
  /** reset of a VM that is not running there. */
  NOT_RUNNING: 'E_HV_NOT_RUNNING',
  /** The hypervisor refused or failed the operation (capacity, image lock, ...). */
  FAILED: 'E_HV_FAILED',
  /**
   * The command was sent but no result came back (timed out, connection dropped): it may have
   * taken effect, e.g. libvirtd goes on starting a domain after the virsh client is killed.
   */
  UNKNOWN_OUTCOME: 'E_HV_UNKNOWN_OUTCOME',
  /** The driver (or this pair of hypervisors) cannot migrate a running VM: move it cold instead. */
  MIGRATION_UNSUPPORTED: 'E_HV_MIGRATION_UNSUPPORTED',
} as const;

/** Stable codes of BMC failures (BmcError, bmc/driver.ts). */
export const BmcErrorCodes = {
  /** No session with the BMC: down, unreachable, or it refused the credentials (IPMI cannot tell these apart). */
  UNREACHABLE: 'E_BMC_UNREACHABLE',
  /** The BMC refused the credentials (Redfish 401/403). */
  AUTH: 'E_BMC_AUTH',
  /** The BMC answered but refused or failed the request. */
  FAILED: 'E_BMC_FAILED',
  /** The BMC's answer is not understood (unexpected ipmitool output, a JSON body without the field). */
  PROTOCOL: 'E_BMC_PROTOCOL',
  /** The BMC does not offer this (a reset type or boot target outside its allowable values). */
  UNSUPPORTED: 'E_BMC_UNSUPPORTED',
  /** The password file cannot be read. */
  SECRET: 'E_BMC_SECRET',
} as const;

/** Stable codes of SSH failures (SshError). */
export const SshErrorCodes = {
  /** No known_hosts file configured, or it cannot be read. */
  KNOWN_HOSTS: 'E_SSH_KNOWN_HOSTS',
  /** The known_hosts file has no entry for the host. */
  HOST_UNKNOWN: 'E_SSH_HOST_UNKNOWN',
  /** The host presented a key the known_hosts file does not hold for it (or holds as @revoked). */
  HOST_KEY_MISMATCH: 'E_SSH_HOST_KEY_MISMATCH',
  /** No private key configured, or it cannot be read or parsed. */
  KEY: 'E_SSH_KEY',
  /** The server refused our key. */
  AUTH: 'E_SSH_AUTH',
  /** TCP connect or handshake failed or timed out. */
  CONNECT: 'E_SSH_CONNECT',
  /** The command did not finish in time; its channel was signalled (KILL) and closed. */
  TIMEOUT: 'E_SSH_TIMEOUT',
  /** The connection closed while the command ran (no exit status came back). */
  DROPPED: 'E_SSH_DROPPED',
  /** The server refused to open a session or run the command. */
  EXEC: 'E_SSH_EXEC',
} as const;

/** Stable codes of the Ganglia reader (GangliaParseError, GangliaFetchError). */
export const GangliaErrorCodes = {
  /** gmond's answer is not the XML it sends (monitor/ganglia.ts). */
  XML: 'E_GANGLIA_XML',
  /** gmond could not be reached, or its answer was too slow or too large (monitor/ganglia-fetch.ts). */
  FETCH: 'E_GANGLIA_FETCH',
} as const;

/** Stable codes of a P2V disk chunk that is refused (ChunkError); the capture side sends it again. */
export const ChunkErrorCodes = {
  /** The chunk index is not one of the disk's chunks (a bug on the capture side). */
  BAD_INDEX: 'E_CHUNK_BAD_INDEX',
  /** The body's SHA-256 is not the one announced. */
  BAD_CHECKSUM: 'E_CHUNK_BAD_CHECKSUM',
  /** More or fewer bytes than the chunk holds (after gunzip), or too many compressed bytes. */
  BAD_LENGTH: 'E_CHUNK_BAD_LENGTH',
  /** The body is not gzip. */
  BAD_GZIP: 'E_CHUNK_BAD_GZIP',
  /** The same chunk is being received already. */
  BUSY: 'E_CHUNK_BUSY',
} as const;

/** Stable codes of a refused P2V capture call (CaptureRefused); http/errors.ts maps them to statuses. */
export const CaptureErrorCodes = {
  /** A request that cannot be taken as sent: a refused hardware report or chunk, a bad index. */
  INVALID: 'E_CAPTURE_INVALID',
  /** Not the capture's token, not the host's own address, not a host being captured. */
  FORBIDDEN: 'E_CAPTURE_FORBIDDEN',
  /** No capture runs for this host, or no such disk in its report. */
  NOT_FOUND: 'E_CAPTURE_NOT_FOUND',
  /** Not now: the capture is in another phase, or the chunk is being received. */
  CONFLICT: 'E_CAPTURE_CONFLICT',
  /** The host's capture is over (its token was used up). */
  GONE: 'E_CAPTURE_GONE',
} as const;

/** Stable codes of the Neighbor Discovery codec (NdpCodecError, src/ra/ndp.ts). */
export const NdpErrorCodes = {
  /** Fewer bytes than the message's fixed part (RFC 4861 section 4). */
  SHORT: 'E_NDP_SHORT',
  /** Not the ICMPv6 type the decoder reads, or a code other than 0. */
  BAD_TYPE: 'E_NDP_BAD_TYPE',
  /** An option of length 0, or one that runs past the end of the message (RFC 4861 section 4.6). */
  OPTION_LENGTH: 'E_NDP_OPTION_LENGTH',
  /** A message that breaks a rule of RFC 4861 section 6.1 (e.g. a source link-layer option from ::). */
  INVALID: 'E_NDP_INVALID',
  /** A message that cannot be encoded (a value out of range). */
  ENCODE: 'E_NDP_ENCODE',
} as const;

type CodesOf<T> = T[keyof T];

/** Every stable code 3rc raises. */
export type ErrorCode =
  | CodesOf<typeof ErrorCodes>
  | CodesOf<typeof DhcpErrorCodes>
  | CodesOf<typeof Dhcp6ErrorCodes>
  | CodesOf<typeof PacketErrorCodes>
  | CodesOf<typeof DriverErrorCodes>
  | CodesOf<typeof SshErrorCodes>
  | CodesOf<typeof BmcErrorCodes>
  | CodesOf<typeof GangliaErrorCodes>
  | CodesOf<typeof ChunkErrorCodes>
  | CodesOf<typeof CaptureErrorCodes>
  | CodesOf<typeof NdpErrorCodes>;

/** Base class: a stable code, an operator-facing message, and the underlying cause. */
export class ThreeRcError extends Error {
  /**
   * No stack trace: for the errors a hostile packet raises (the codecs'), whose code and message
   * say everything. Capturing a stack costs far more than decoding the datagram, and a flood of
   * malformed packets made it a leading source of garbage (the TFTP fuzz campaign's profile).
   */
  static readonly stackless: boolean = false;
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    const limit = Error.stackTraceLimit;
    if ((new.target as typeof ThreeRcError).stackless) Error.stackTraceLimit = 0;
    super(message, options);
    Error.stackTraceLimit = limit;
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem in a config file: where it is and what was expected. */
export interface ConfigProblem {
  file: string;
  /** Path inside the document, e.g. `hosts[3].mac`; empty for the whole file. */
  path: string;
  /** 1-based line in the file when known. */
  line?: number;
  message: string;
}

/** Formats a problem as one line: `file:line: path: message`. */
function formatProblem(p: ConfigProblem): string {
  const where = p.line ? `${p.file}:${p.line}` : p.file;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** A config that cannot be used; `problems` holds one entry per thing to fix. */
export class ConfigError extends ThreeRcError {
  readonly problems: ConfigProblem[];
  constructor(code: ErrorCode, problems: ConfigProblem[], options?: { cause?: unknown }) {
    super(code, problems.map(formatProblem).join('\n'), options);
    this.problems = problems;
  }
}

/** A listener that cannot be bound: the message names the port and the fix. */
export class BindError extends ThreeRcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.BIND, message, options);
  }
}

export class StoreError extends ThreeRcError {}

/**
 * A failure on a remote machine 3rc drives (a hypervisor, an SSH target): `host` is its
 * inventory name. DriverError and SshError are its two kinds.
 */
export class RemoteError<C extends ErrorCode = ErrorCode> extends ThreeRcError {
  declare readonly code: C;
  readonly host: string;
  constructor(code: C, host: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.host = host;
  }
}

/**
 * A template that cannot be compiled, filled or rendered: a kickstart or iPXE template
 * (render/engine.ts: `file`, `line`, the `host` rendered for) or a hypervisor command template
 * (hypervisor/template.ts: the message names the config field). `detail` is the message
 * without the place.
 */
export class TemplateError extends ThreeRcError {
  constructor(
    readonly detail: string,
    readonly file?: string,
    readonly line?: number,
    readonly host?: string,
  ) {
    super(ErrorCodes.TEMPLATE, `${file ? `${file}${line ? `:${line}` : ''}: ` : ''}${detail}${host ? ` (rendering for ${host})` : ''}`);
  }
}

export class NotFoundError extends ThreeRcError {}

/** A request that contradicts the current state (API 409): what is in the way is in the message. */
export class ConflictError extends ThreeRcError {}

/**
 * A change refused because this instance is not the leader of a redundant 3rc (or has just lost
 * the leadership: a fenced write). `leader` is the current leader's name and API URL when known.
 */
export class NotLeaderError extends ThreeRcError {
  readonly leader: { name: string; url: string | null } | null;
  constructor(message: string, leader: { name: string; url: string | null } | null) {
    super(ErrorCodes.NOT_LEADER, message);
    this.leader = leader;
  }
}

/** A value the operator typed (CLI, API) that is not acceptable. */
export class InputError extends ThreeRcError {
  /** Field the problem is in, for API 400 answers. */
  readonly field: string | undefined;
  constructor(code: ErrorCode, message: string, field?: string) {
    super(code, message);
    this.field = field;
  }
}

/** True for errors that Node raised with this errno code (EADDRINUSE, ENOENT, ...). */
export function hasErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}
