/**
 * iPXE and IPv6 router advertisements on an IPv4-only network (issue 23), with real firmware:
 * qemu's iPXE ROM (BIOS, TCG) boots from 3rc, gets the HTTP script URL in its DHCP ACK and fetches
 * the script. iPXE configures IPv4 (DHCP) and IPv6 (it solicits routers) side by side and fetches
 * nothing before both are settled, so on a network where nobody answers its router solicitation it
 * waits for its IPv6 timeout first (13-16 s, measured in the lab before 3rc sent RAs).
 *
 * The same boot, twice, each in its own lab: with 3rc's router advertisements (the default: router
 * lifetime 0 and no prefix, "no IPv6 router here") and with them off (servers.ra.enabled false, no
 * radvd either: a plain IPv4 network). Asserted from 3rc's boot trace and log: with RA on, 3rc
 * answered the host's solicitation before the script fetch; with RA off, nobody did and the script
 * is fetched all the same (later). The time from the DHCP ACK to the script fetch is printed for
 * both: the wait the RA removes. (Tests never assert wall-clock times.)
 *
 * THREERC_LAB_IPXE_PRESEED=1 (by hand, not in CI: 2-3 more minutes) boots each into the Debian
 * installer over iPXE's fast path (script, kernel, initrd over HTTP) and prints the time from
 * power-on to its preseed fetch with and without RA.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunningLab } from '../../src/lab/lab.js';
import { labBudget, labUnavailable, labWorkDir } from '../../src/lab/topology.js';
import type { StoreEvent } from '../../src/store/store.js';
import { ack, bootFilesMissing, raAnsweredAt, report } from './boot-trace.js';

const skip = labUnavailable() ?? bootFilesMissing();
if (skip) console.log(`# SKIP lab iPXE/RA test: ${skip}`);

const HOST = 'vm10';
/** Power-on to the script fetch: about 10 s with RA, 25-30 s without, under TCG; with a margin. */
const WAIT_MS = labBudget(90_000);
const script = (e: StoreEvent) => e.kind === 'http.ipxe' && e.host === HOST;
const TO_PRESEED = process.env.THREERC_LAB_IPXE_PRESEED === '1';

async function bootToScript(tag: string, raEnabled: boolean): Promise<{ ackToScript: number; answered: boolean }> {
  const work = labWorkDir(`lab-ra${tag}`);
  const lab = await RunningLab.start({
    prefix: `L${process.pid % 10000}ra${tag}`, workDir: work.dir,
    configChanges: { servers: { ra: { enabled: raEnabled } } },
    log: (l) => console.log(`# ${l}`),
  });
  try {
    if (TO_PRESEED) assert.equal((await lab.api('PUT', `/hosts/${HOST}/boot`, { mode: 'install', profile: 'debian12', reason: 'lab test' })).status, 200);
    const vm = lab.bootVm({ host: HOST, firmware: 'bios' });
    const t0 = vm.startedAt;
    const dhcp = await lab.waitEvent(HOST, (e) => ack(e) && String(e.data?.file ?? '').includes('/boot/ipxe/'), WAIT_MS, 'DHCP ACK with the iPXE script URL');
    const fetched = await lab.waitEvent(HOST, script, WAIT_MS, 'the iPXE script fetch', lab.events.indexOf(dhcp) + 1);
    const answers = raAnsweredAt(lab.serverLines, lab.host(HOST).mac);
    const preseed = TO_PRESEED ? await lab.waitEvent(HOST, (e) => e.kind === 'http.kickstart' && e.data?.status === 200, labBudget(5 * 60_000), 'the preseed fetch', lab.events.indexOf(fetched) + 1) : undefined;
    report(`iPXE BIOS (${HOST}), router advertisements ${raEnabled ? 'on' : 'off'}`, {
      'DHCP ACK': (dhcp.at - t0) / 1000,
      'iPXE script': (fetched.at - t0) / 1000,
      ...(answers[0] !== undefined ? { 'RA answered': (answers[0] - t0) / 1000 } : {}),
      ...(preseed ? { 'preseed fetched': (preseed.at - t0) / 1000 } : {}),
    });
    if (answers[0] !== undefined) assert.ok(answers[0] <= fetched.at, 'the solicitation was answered before the script fetch');
    await lab.powerOff(HOST);
    return { ackToScript: (fetched.at - dhcp.at) / 1000, answered: answers.length > 0 };
  } finally {
    await lab.stop();
    work.remove();
  }
}

describe('lab: iPXE on an IPv4-only network, with and without 3rc\'s router advertisements', { skip }, () => {
  it('with RA the solicitation is answered and the script follows the ACK at once; without, iPXE waits for its IPv6 timeout first', { timeout: 2 * WAIT_MS + labBudget(TO_PRESEED ? 11 * 60_000 : 60_000) }, async () => {
    const on = await bootToScript('1', true);
    assert.ok(on.answered, "3rc answered no router solicitation from the host's MAC");
    const off = await bootToScript('0', false);
    assert.ok(!off.answered, 'with servers.ra.enabled false nothing answers a solicitation');
    console.log(`# DHCP ACK -> iPXE script fetch: ${on.ackToScript.toFixed(1)} s with 3rc's RA, ${off.ackToScript.toFixed(1)} s without any RA`);
  });
});
