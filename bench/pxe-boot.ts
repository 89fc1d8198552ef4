/**
 * The real PXE boot (issue 26; issue 23's before and after the RA): qemu, BIOS with its iPXE ROM
 * (TCG), boots the Debian installer on the lab network (src/lab: namespaces in 10.77.0.0/16, no
 * route out, no radvd anywhere), timed from qemu's start (power-on) to the installer's preseed
 * fetch. Three servers, alternated within each round, the order flipped every round:
 *
 * - 3rc as it ships (RunningLab: examples/lab.yaml), its router advertisements on (the default):
 *   its own chain, DHCP (with no-pxedhcp) -> its iPXE script over HTTP -> kernel and initrd over
 *   HTTP -> the preseed over HTTP;
 * - 3rc with servers.ra.enabled false: the same, on an IPv4-only network where nobody answers
 *   iPXE's router solicitation ("before the RA");
 * - the reference (pxe-reference.ts): dnsmasq (DHCP, DNS, TFTP) + busybox httpd serving the same
 *   script, kernel, initrd and preseed at the same URLs, on dnsmasq's documented iPXE chain.
 *
 * Time sources: 3rc's boot trace (the DHCP ACK, the iPXE script and the preseed fetch, stamped by
 * 3rc), dnsmasq's and httpd's log lines for the reference. Not in --quick (it boots qemu for
 * minutes): run.ts prints why.
 */
import { RunningLab } from '../src/lab/lab.js';
import { labBudget, labUnavailable, labWorkDir } from '../src/lab/topology.js';
import type { StoreEvent } from '../src/store/store.js';
import type { Preview } from '../src/boot/served.js';
import { ack, bootFilesMissing } from '../test/lab/boot-trace.js';
import { onCleanup } from './lib/cleanup.js';
import type { Figure } from './lib/figures.js';
import type { BenchOptions } from './lib/options.js';
import { findTool } from './lib/proc.js';
import { DNSMASQ } from './lib/servers.js';
import { alternate } from './lib/stats.js';
import { bootReference, BUSYBOX, UNDIONLY, type BootTimes, type HostFiles } from './pxe-reference.js';

const HOST = 'vm10';
const REF = 'dnsmasq + busybox httpd';

export const PXEBOOT_QUICK_SKIP = 'boots qemu (TCG) into the Debian installer, minutes per boot';

export const PXEBOOT_NOTE = `**Real PXE boot** (pxeboot): qemu BIOS with its iPXE ROM (TCG, 1 CPU, 1 GB), the lab's host vm10 on the lab network (namespaces, 10.77.0.0/24, no route out, no radvd), booting the Debian 12 installer (profile debian12), timed from qemu's start (power-on) to the installer's preseed fetch. 3rc as it ships (router advertisements on: lifetime 0, no prefix) and 3rc with \`servers.ra.enabled: false\` each boot the host on 3rc's own chain: DHCP (with iPXE's no-pxedhcp) gives iPXE the URL of its script, which loads kernel and initrd over HTTP with the preseed URL on the kernel command line. The reference is dnsmasq (DHCP with the same reservation, router and DNS options and no-pxedhcp, its DNS, its TFTP with undionly.kpxe) on its documented iPXE chain (dhcp-match on option 175: a legacy PXE ROM would get undionly.kpxe over TFTP, iPXE gets the script's HTTP URL; qemu's ROM is iPXE, so it goes to HTTP at once), and busybox httpd (C, forks per connection, logs each request as it serves it) serving 3rc's own render of the same iPXE script and preseed, and the same kernel and initrd, at the same URLs: the same kernel command line. Without any RA, iPXE waits for an IPv6 router before it fetches anything (13-16 s, lab-notes): the reference and 3rc with RA off pay it, 3rc with its RA should not. Times come from 3rc's boot trace and from dnsmasq's and httpd's log lines as the bench reads them; "3rc RA on against RA off" is issue 23's before and after. A boot that does not reach the preseed within its budget counts in "boots that failed" and adds no time. Most of the time to the preseed is the installer's kernel booting under TCG, which is CPU-bound: on a busy machine it moves by minutes between rounds, while the DHCP ACK to script time (iPXE's IPv6 wait, a timer) moves much less.`;

export function pxeBootUnavailable(): string | undefined {
  return labUnavailable()
    ?? bootFilesMissing()
    ?? (findTool(DNSMASQ) ? undefined : `needs ${DNSMASQ} (apt-get install dnsmasq-base)`)
    ?? (findTool(BUSYBOX) ? undefined : `needs ${BUSYBOX} (apt-get install busybox)`)
    ?? (findTool(UNDIONLY) ? undefined : `needs ${UNDIONLY} (apt-get install ipxe)`)
    ?? (findTool('/usr/lib/ipxe/qemu/efi-virtio.rom') ? undefined : 'needs the virtio iPXE ROM (apt-get install ipxe-qemu)');
}

type Server = '3rc' | '3rc RA off' | 'reference';
const SERVERS: Server[] = ['3rc', '3rc RA off', 'reference'];

/**
 * Boots the host once from 3rc (the lab as `3rc lab` runs it, RA on or off) and times it from the
 * boot trace; also returns 3rc's render of the host's script and preseed, for the reference.
 */
async function boot3rc(tag: string, raEnabled: boolean, log: (l: string) => void): Promise<BootTimes & { files: HostFiles }> {
  const work = labWorkDir('bench-pxe3rc');
  const lab = await RunningLab.start({
    prefix: `bp${process.pid % 10000}${tag}`, workDir: work.dir,
    configChanges: { servers: { ra: { enabled: raEnabled } } },
    // Progress lines only, not every trace event.
    log: (l) => (l.startsWith('lab:') ? log(`pxeboot ${l}`) : undefined),
  }).catch((err: unknown) => {
    work.remove();
    throw err;
  });
  const stop = onCleanup(async () => {
    await lab.stop();
    work.remove();
  });
  try {
    const put = await lab.api('PUT', `/hosts/${HOST}/boot`, { mode: 'install', profile: 'debian12', reason: 'bench' });
    if (put.status !== 200) throw new Error(`PUT /hosts/${HOST}/boot: ${put.status} ${JSON.stringify(put.body)}`);
    const render = await lab.api('GET', `/hosts/${HOST}/render`);
    const p = render.body as Preview;
    if (render.status !== 200 || !p.kickstart) throw new Error(`GET /hosts/${HOST}/render: ${render.status}`);
    const h = lab.host(HOST);
    const files: HostFiles = { macPath: p.mac, mac: h.mac, ip: h.ip, name: HOST, ipxe: p.ipxe.text, preseed: p.kickstart.text };
    const vm = lab.bootVm({ host: HOST, firmware: 'bios' });
    const t0 = vm.startedAt;
    const budget = labBudget(5 * 60_000);
    const preseed = await lab.waitEvent(HOST, (e) => e.kind === 'http.kickstart' && e.data?.status === 200, budget, 'the preseed fetch');
    const first = (pred: (e: StoreEvent) => boolean) => lab.events.find((e) => e.host === HOST && pred(e));
    const dhcp = first((e) => ack(e) && String(e.data?.file ?? '').includes('/boot/ipxe/'));
    const script = first((e) => e.kind === 'http.ipxe' && e.data?.status === 200);
    const s = (e: StoreEvent | undefined) => (e ? (e.at - t0) / 1000 : NaN);
    return { dhcpAck: s(dhcp), firstHttp: s(script), preseed: s(preseed), files };
  } finally {
    await stop();
  }
}

const NONE: BootTimes = { dhcpAck: NaN, firstHttp: NaN, preseed: NaN };

export async function runPxeBoot(opts: BenchOptions): Promise<Figure[]> {
  const times: Record<Server, BootTimes[]> = { '3rc': [], '3rc RA off': [], reference: [] };
  const failed: Record<Server, number> = { '3rc': 0, '3rc RA off': 0, reference: 0 };
  let files: HostFiles | undefined;
  for (let round = 0; round < opts.rounds; round++) {
    // Round 0 starts with 3rc, whose render the reference serves.
    for (const server of alternate(SERVERS, round)) {
      const tag = `${'abc'[SERVERS.indexOf(server)]}${round}`;
      let t: BootTimes;
      try {
        if (server === 'reference') {
          if (!files) throw new Error('no render of the host from 3rc yet');
          t = await bootReference(tag, files, opts.log);
        } else {
          const r = await boot3rc(tag, server === '3rc', opts.log);
          files ??= r.files;
          t = r;
        }
      } catch (err) {
        failed[server]++;
        opts.log(`pxeboot round ${round + 1} ${server}: failed: ${(err as Error).message}`);
        t = NONE;
      }
      times[server].push(t);
      opts.log(`pxeboot round ${round + 1} ${server}: DHCP ACK ${t.dhcpAck.toFixed(1)} s, first HTTP request ${t.firstHttp.toFixed(1)} s, preseed fetched ${t.preseed.toFixed(1)} s after power-on (ACK to first HTTP ${(t.firstHttp - t.dhcpAck).toFixed(1)} s)`);
    }
  }
  return pxeFigures(times, failed);
}

function pxeFigures(times: Record<Server, BootTimes[]>, failed: Record<Server, number>): Figure[] {
  const col = (s: Server, f: (t: BootTimes) => number) => times[s].map(f);
  const preseed = (t: BootTimes) => t.preseed;
  const ackToHttp = (t: BootTimes) => t.firstHttp - t.dhcpAck;
  const ackAt = (t: BootTimes) => t.dhcpAck;
  const figures: Figure[] = [];
  for (const [ours, label] of [['3rc', 'RA on, as shipped'], ['3rc RA off', 'servers.ra.enabled false']] as const) {
    const fig = (name: string, f: (t: BootTimes) => number): Figure => ({ bench: 'pxeboot', name: `${name} (3rc ${label})`, unit: 's', better: 'lower', ours: col(ours, f), ref: col('reference', f), refName: REF });
    figures.push(fig('BIOS/iPXE power-on to preseed fetch', preseed), fig('power-on to DHCP ACK', ackAt), fig('DHCP ACK to first HTTP request (iPXE script)', ackToHttp));
    figures.push({ bench: 'pxeboot', name: `boots that failed, no preseed fetch within the budget (3rc ${label})`, unit: 'boots', better: 'lower', ours: [failed[ours]], ref: [failed.reference], refName: REF });
  }
  figures.push({ bench: 'pxeboot', name: 'BIOS/iPXE power-on to preseed fetch, 3rc RA on against RA off (issue 23)', unit: 's', better: 'lower', ours: col('3rc', preseed), ref: col('3rc RA off', preseed), refName: '3rc RA off' });
  return figures;
}
