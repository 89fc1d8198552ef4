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
  BIND: 'E_BIND',
  UNKNOWN_HOST: 'E_UNKNOWN_HOST',
  UNKNOWN_PROFILE: 'E_UNKNOWN_PROFILE',
  BAD_MAC: 'E_BAD_MAC',
  BAD_IPV4: 'E_BAD_IPV4',
  BAD_DURATION: 'E_BAD_DURATION',
  API: 'E_API',
  TEMPLATE: 'E_TEMPLATE',
  HA_INACTIVE: 'E_HA_INACTIVE',
  USAGE: 'E_USAGE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class: a stable code, an operator-facing message, and the underlying cause. */
export class ThreeRcError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
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
export function formatProblem(p: ConfigProblem): string {
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

export class NotFoundError extends ThreeRcError {}

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
