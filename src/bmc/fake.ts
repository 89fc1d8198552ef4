/** A BMC in memory, for unit tests of what uses a BmcDriver (it passes the same contract as the real drivers). */
import { BmcErrorCodes } from '../lib/errors.js';
import { BmcError, cycle, type BmcDriver, type BmcHealth, type BootTarget, type PowerAction, type PowerState } from './driver.js';

export class FakeBmc implements BmcDriver {
  readonly kind = 'fake';
  state: PowerState = 'on';
  bootOverride: BootTarget | null = null;
  /** Unreachable: every call fails as a BMC that does not answer. */
  down = false;
  /** The power command is taken but the machine stays in this state (a stuck relay). */
  stuck: PowerState | null = null;
  readonly calls: string[] = [];

  constructor(private readonly host = 'hv') {}

  private check(call: string): void {
    this.calls.push(call);
    if (this.down) throw new BmcError(BmcErrorCodes.UNREACHABLE, this.host, `${call}: no answer from the BMC`);
  }

  async powerState(): Promise<PowerState> {
    this.check('status');
    return this.state;
  }

  async power(action: PowerAction): Promise<PowerState> {
    if (action === 'cycle') return cycle(this.host, (a) => this.power(a));
    this.check(action);
    if (this.stuck) this.state = this.stuck;
    else if (action === 'off') this.state = 'off';
    else {
      if (this.bootOverride) this.bootOverride = null; // consumed by the boot
      this.state = 'on';
    }
    return this.powerState();
  }

  async bootOnce(target: BootTarget): Promise<void> {
    this.check(`boot ${target}`);
    this.bootOverride = target;
  }

  async health(): Promise<BmcHealth> {
    this.check('health');
    return { power: this.state, faults: [], events: 0, recent: [] };
  }
}
