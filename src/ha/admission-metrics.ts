/** Admission control as Prometheus gauges, read at each scrape from the controller's last answer. */
import { Gauge } from 'prom-client';
import type { Metrics } from '../lib/metrics.js';
import type { Admission } from './admission.js';

export function registerAdmission(metrics: Metrics, current: () => Admission | null): void {
  const stranded = (a: Admission) => new Set(a.failing.flatMap((f) => f.stranded.map((s) => s.vm))).size;
  const gauge = (name: string, help: string, value: (a: Admission) => number) =>
    new Gauge({
      name, help, registers: [metrics.registry],
      collect() {
        const a = current();
        // No answer yet (or no controller here): no sample rather than a false 0 or 1.
        this.reset();
        if (a) this.set(value(a));
      },
    });
  gauge('threerc_ha_admission_holds', 'Admission control: 1 when every failure case planned (ha.admission failures and domain) leaves every VM room to restart, else 0', (a) => (a.holds ? 1 : 0));
  gauge('threerc_ha_admission_failing_cases', 'Admission control: failure cases (a host, a rack, or N of them) that would leave a VM without room', (a) => a.failing.length);
  gauge('threerc_ha_admission_stranded_vms', 'Admission control: VMs that some failure case would leave without room', stranded);
  gauge('threerc_ha_admission_cases', 'Admission control: failure cases planned after the last pass', (a) => a.cases);
}
