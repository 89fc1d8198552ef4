/** A long-running part of the process (a protocol server, the controller) with a lifecycle. */
export interface Service {
  /** dhcp, tftp, http, dns, ha, ... */
  readonly name: string;
  /** Binds its listeners; rejects with a BindError when it cannot. */
  start(): Promise<void>;
  /** Closes every socket and timer; resolves when nothing of it is left. Idempotent. */
  stop(): Promise<void>;
  /** Where it listens, for the "ready" log line and tests (`0.0.0.0:67/udp`). */
  addresses(): string[];
}
