/**
 * One HypervisorDriver over several: each hypervisor is driven by the driver its config names
 * (libvirt for some, command templates for others). The controller holds a single driver; the
 * composition root builds this one from `hypervisors[]`.
 */
import { DriverError, DriverErrorCodes, type HypervisorDriver, type VmListing, type VmRunState } from './driver.js';

/** Routes each call to the driver of its hypervisor; an unknown hypervisor is UNREACHABLE. */
export class ByHostDriver implements HypervisorDriver {
  readonly kind = 'by-host';

  /** `drivers`: hypervisor name -> the driver for it. */
  constructor(private readonly drivers: ReadonlyMap<string, HypervisorDriver>) {}

  async reachable(host: string): Promise<boolean> {
    const d = this.drivers.get(host);
    return d ? d.reachable(host) : false;
  }

  async listVms(host: string): Promise<VmListing[]> {
    return this.for(host).listVms(host);
  }

  async vmState(host: string, vm: string): Promise<VmRunState> {
    return this.for(host).vmState(host, vm);
  }

  async start(host: string, vm: string): Promise<void> {
    return this.for(host).start(host, vm);
  }

  async destroy(host: string, vm: string): Promise<void> {
    return this.for(host).destroy(host, vm);
  }

  async reset(host: string, vm: string): Promise<void> {
    return this.for(host).reset(host, vm);
  }

  /** Within one driver only: two hypervisors driven differently cannot migrate between them. */
  async migrate(host: string, vm: string, dest: string): Promise<void> {
    const d = this.for(host);
    if (this.for(dest) !== d) throw new DriverError(DriverErrorCodes.MIGRATION_UNSUPPORTED, host, `${host} (${d.kind}) and ${dest} (${this.for(dest).kind}) are driven differently: no live migration between them`);
    return d.migrate(host, vm, dest);
  }

  private for(host: string): HypervisorDriver {
    const d = this.drivers.get(host);
    if (!d) throw new DriverError(DriverErrorCodes.UNREACHABLE, host, `${host} is not a configured hypervisor`);
    return d;
  }
}
