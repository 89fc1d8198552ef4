/**
 * GuestAccess over SSH: `reboot` inside the VM (the paper's first rung). A connection that drops
 * while the command runs counts as "reboot started": that is what a rebooting guest does.
 */
import type { GuestAccess } from './driver.js';
import type { SshPool, SshTarget } from './ssh.js';

/** How the guest is told to reboot. */
export interface SshGuestOptions {
  /** Command run in the guest. Default: `reboot` (use e.g. `sudo -n reboot` for a non-root user). */
  command?: string;
  /** Give up (and answer 'unreachable') after this long. Default: 15 s. */
  timeoutMs?: number;
}

/** GuestAccess through an SshPool; targets come from the inventory (address, guest SSH settings). */
export class SshGuestAccess implements GuestAccess {
  constructor(
    private readonly pool: SshPool,
    /** Where each VM is reached; undefined = no SSH access configured for it. */
    private readonly target: (vm: string) => SshTarget | undefined,
    private readonly opts: SshGuestOptions = {},
  ) {}

  async reboot(vm: string): Promise<'started' | 'unreachable'> {
    const t = this.target(vm);
    if (!t) return 'unreachable';
    return this.pool.reboot(t, { timeoutMs: this.opts.timeoutMs ?? 15_000, command: this.opts.command ?? 'reboot' });
  }
}
