/**
 * The web dashboard in a real headless Chromium (Debian's, driven by playwright-core) against a
 * real `3rc serve`: the overview shows the example inventory and filters it; the reinstall button
 * is refused without a token and with a wrong one, and flips the boot entry with the right one;
 * boot-entry changes made elsewhere appear without a reload; and a VM failure seen by the HA
 * controller (a real sshd with a fake virsh stands for the hypervisor, as in test/ha-live; the
 * VM's service port is a listener of this test, closed to make the VM fail) shows up live on the
 * overview and on the VM's timeline. Screenshots go to var/test-artifacts/web/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { sshdUnavailable } from '../hypervisor/sshd.js';
import { startFakeHypervisor } from '../lib/fake-hypervisor.js';
import { loadConfig } from '../../src/config/load.js';
import { freePort, LAB_YAML, ROOT, serve, writeLabConfig, type LabConfig, type Served } from '../lib/serve.js';

const CHROMIUM = '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (apt-get install chromium)`;
if (noBrowser) console.log(`# skipping the dashboard browser tests: ${noBrowser}`);
const noSshd = noBrowser ?? sshdUnavailable();
if (noSshd && !noBrowser) console.log(`# skipping the live HA dashboard test: ${noSshd}`);

const ARTIFACTS = join(ROOT, 'var', 'test-artifacts', 'web');

async function browse(): Promise<{ ctx: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), '3rc-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  return {
    ctx,
    async close() {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A page that fails the test on any script error or CSP violation (collected, checked at the end). */
async function openPage(ctx: BrowserContext, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => void d.accept());
  await page.goto(url);
  return { page, errors };
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  console.log(`# screenshot: ${path}`);
}

const bootOf = async (url: string, host: string) => ((await (await fetch(`${url}/api/v1/hosts/${host}/boot`)).json()) as { mode: string }).mode;

describe('web dashboard on the example inventory', { skip: noBrowser ?? false }, () => {
  let cfg: LabConfig;
  let s: Served;
  let b: Awaited<ReturnType<typeof browse>>;
  before(async () => {
    cfg = await writeLabConfig();
    s = await serve(cfg);
    b = await browse();
  });
  after(async () => {
    await b?.close();
    await s?.stop();
    cfg?.cleanup();
  });

  it('shows every hypervisor, VM and host of the inventory, and filters them', async () => {
    const { page, errors } = await openPage(b.ctx, `${s.url}/`);
    // Every row of examples/lab.yaml, whatever it holds today.
    const lab = loadConfig(LAB_YAML);
    await page.locator('#host-table tbody tr').first().waitFor();
    assert.deepEqual(await page.locator('#host-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-host'))), lab.hosts.map((h) => h.name));
    for (const h of lab.hosts) {
      const row = (await page.locator(`tr[data-host="${h.name}"]`).textContent())!;
      assert.ok(row.includes(h.ip) && row.includes(h.mac) && row.includes(h.profile), row);
      assert.equal(await page.locator(`tr[data-host="${h.name}"] td.boot`).textContent(), h.boot ?? 'local');
      if (h.hypervisor) assert.equal(await page.locator(`tr[data-vm="${h.name}"] td.state`).textContent(), 'unmonitored');
    }
    for (const hv of lab.hypervisors) {
      const vms = lab.hosts.filter((h) => h.hypervisor === hv.name).map((h) => h.name).sort();
      assert.equal(await page.locator(`tr[data-hv="${hv.name}"] td:nth-child(2)`).textContent(), 'unknown');
      assert.equal(await page.locator(`tr[data-hv="${hv.name}"] td:nth-child(3)`).textContent(), `n/a / ${hv.loadThreshold}`);
      assert.equal(await page.locator(`tr[data-hv="${hv.name}"] td:nth-child(4)`).textContent(), vms.join(', '));
    }
    assert.match((await page.locator('#ha-line').textContent())!, /not running: ha.enabled is false/);
    await page.locator('#admission-line[data-holds="unknown"]').waitFor();
    assert.match((await page.locator('#admission-line').textContent())!, /^not computed: HA controller not running \(ha.enabled is false in the config\)$/);
    await page.locator('#live.on').waitFor();
    await shot(page, 'overview.png');

    const names = (table: string, attr: string) => page.locator(`#${table} tbody tr`).evaluateAll((rows, a) => rows.map((r) => r.getAttribute(a)), attr);
    await page.fill('#filter-text', 'rocky9');
    assert.deepEqual(await names('host-table', 'data-host'), lab.hosts.filter((h) => h.profile === 'rocky9').map((h) => h.name));
    await page.fill('#filter-text', 'hv2');
    assert.deepEqual(await names('vm-table', 'data-vm'), lab.hosts.filter((h) => h.hypervisor === 'hv2').map((h) => h.name));
    await page.fill('#filter-text', 'VM12 10.77');
    assert.deepEqual(await names('host-table', 'data-host'), ['vm12']);
    await page.fill('#filter-text', '');
    await page.selectOption('#filter-state', 'install');
    assert.equal(await page.locator('#host-table tbody tr').count(), lab.hosts.filter((h) => h.boot === 'install').length);
    await page.selectOption('#filter-state', 'all');
    assert.equal(await page.locator('#host-table tbody tr').count(), lab.hosts.length);

    // A boot-entry change made elsewhere (the API, as the CLI does) appears without a reload.
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const token = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
    const put = await fetch(`${s.url}/api/v1/hosts/vm11/boot`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'install', reason: 'e2e' }) });
    assert.equal(put.status, 200);
    await page.locator('tr[data-host="vm11"] td.boot [data-state="install"]').waitFor({ timeout: 5000 });
    assert.match((await page.locator('tr[data-host="vm11"] td.last-event').textContent())!, /boot\.set \(e2e\)/);
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('reinstall: refused without a token and with a wrong one; flips the boot entry with the right one', async () => {
    const { page, errors } = await openPage(b.ctx, `${s.url}/#/host/vm10`);
    await page.locator('#btn-reinstall').waitFor();
    assert.equal(await bootOf(s.url, 'vm10'), 'local');

    await page.click('#btn-reinstall');
    await page.locator('#action-msg.error').waitFor();
    assert.match((await page.locator('#action-msg').textContent())!, /Reinstall failed: 401 E_AUTH_REQUIRED/);
    assert.equal(await bootOf(s.url, 'vm10'), 'local');

    await page.fill('#token', 'not-the-token');
    await page.click('#token-save');
    await page.click('#btn-reinstall');
    await page.locator('#action-msg.error', { hasText: '403' }).waitFor();
    assert.match((await page.locator('#action-msg').textContent())!, /Reinstall failed: 403 E_AUTH_FAILED: the API token is not valid/);
    assert.equal(await bootOf(s.url, 'vm10'), 'local');
    await shot(page, 'host-wrong-token.png');

    const token = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
    await page.fill('#token', token);
    await page.click('#token-save');
    // The token lives in this tab's sessionStorage only.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('3rc.apiToken')), token);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    await page.click('#btn-reinstall');
    await page.locator('#action-msg.ok').waitFor();
    assert.match((await page.locator('#action-msg').textContent())!, /vm10 now boots: install \(debian12\)/);
    assert.equal(await bootOf(s.url, 'vm10'), 'install');
    await page.locator('#boot-mode [data-state="install"]').waitFor();

    // The flip is on the timeline (the boot lane turns to install, with a marker) and in the trace.
    await page.locator('#timeline rect.band[data-state="install"]').waitFor({ timeout: 5000 });
    await page.locator('#timeline .marker.mk-boot').first().hover();
    await page.locator('#tooltip:not([hidden])').waitFor();
    assert.match((await page.locator('#tooltip').textContent())!, /boot: install/);
    await page.locator('#trace-table tr[data-kind="boot.set"]').first().waitFor();

    // The rendered kickstart, as `3rc render` prints it (with the install token in its URLs).
    await page.click('#btn-render');
    await page.locator('pre.render-kickstart').waitFor();
    assert.match((await page.locator('pre.render-kickstart').textContent())!, /d-i /);
    await shot(page, 'host.png');

    await page.click('#btn-local');
    await page.locator('#action-msg.ok', { hasText: 'vm10 now boots: local' }).waitFor();
    assert.equal(await bootOf(s.url, 'vm10'), 'local');
    // The refused calls show in the console as failed loads; nothing else may.
    assert.deepEqual(errors.filter((e) => !/status of 40[13]/.test(e)), []);
    await page.close();
  });
});

describe('web dashboard with the HA controller running', { skip: noSshd ?? false }, () => {
  it('shows a VM failure live on the overview and on its timeline', async () => {
    const hv = await startFakeHypervisor();
    // The VM's service: answers while this listener is open.
    const servicePort = await freePort();
    const sockets = new Set<net.Socket>();
    const service = net.createServer((c) => {
      sockets.add(c);
      c.on('close', () => sockets.delete(c));
      c.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => service.listen(servicePort, '127.0.0.20', resolve));
    const cfg = await writeLabConfig(hv.config({ driver: 'libvirt', probePort: servicePort }));
    const s = await serve(cfg);
    const b = await browse();
    try {
      const { page, errors } = await openPage(b.ctx, `${s.url}/`);
      await page.locator('#ha-line', { hasText: 'HA controller: running' }).waitFor();
      await page.locator('tr[data-vm="vmt"] td.state [data-state="running"]').waitFor();
      await page.locator('tr[data-hv="hv1"] td.state [data-state="up"]').waitFor({ timeout: 10_000 });
      assert.match((await page.locator('tr[data-hv="hv1"]').textContent())!, /vmt/);
      await shot(page, 'ha-overview-running.png');
      await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

      // The failure: the VM's service stops answering.
      await new Promise<void>((resolve) => {
        service.close(() => resolve());
        for (const c of sockets) c.destroy();
      });
      await page.locator('tr[data-vm="vmt"] td.state [data-state]:not([data-state="running"])').waitFor({ timeout: 20_000 });
      const seen = await page.locator('tr[data-vm="vmt"] td.state').textContent();
      assert.notEqual(seen, 'running');
      assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');
      // Let it climb a rung or two, so the timeline has decisions on it.
      await page.locator('tr[data-vm="vmt"] td.reason').filter({ hasNotText: /^$/ }).waitFor();
      await shot(page, 'ha-overview-failed.png');

      await page.click('tr[data-vm="vmt"] td:first-child a');
      await page.locator('#timeline svg').waitFor();
      await page.selectOption('#range', String(5 * 60_000));
      await page.locator('#timeline rect.band[data-state="running"]').waitFor();
      await page.locator('#timeline rect.band:not([data-state="running"]):not([data-state="up"]):not([data-state="local"])').first().waitFor({ timeout: 15_000 });
      await page.locator('#timeline .marker.mk-decision').first().waitFor({ timeout: 15_000 });
      await page.locator('#timeline .marker.mk-decision').first().hover();
      await page.locator('#tooltip:not([hidden])').waitFor();
      assert.match((await page.locator('#tooltip').textContent())!, /vm: vmt/);
      // The hypervisor lane, as in the paper's figure.
      await page.locator('#timeline g[data-lane="hv:hv1"] rect.band[data-state="up"]').waitFor();
      await page.locator('#ha-state').waitFor();
      await shot(page, 'ha-timeline.png');

      // Drag across the last seconds to zoom in on the failure: its rungs get room of their own.
      // The timeline is redrawn as live decisions arrive (the VM is still climbing rungs): an
      // element read in the middle of a redraw has no box yet, so read both until they have one.
      const boxOf = async (sel: string) => {
        for (let i = 0; i < 50; i++) {
          const b = await page.locator(sel).first().boundingBox();
          if (b) return b;
          await page.waitForTimeout(100);
        }
        throw new Error(`${sel} has no bounding box (not rendered)`);
      };
      const box = await boxOf('#timeline svg');
      const failedAt = await boxOf('#timeline .marker.mk-decision');
      const x0 = Math.max(box.x + 125, failedAt.x - 40);
      await page.mouse.move(x0, box.y + 40);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width - 2, box.y + 60, { steps: 5 });
      await page.mouse.up();
      await page.locator('#zoom-reset:not([hidden])').waitFor();
      await page.locator('#timeline rect.band[data-state="suspect"], #timeline rect.band[data-state="rebooting"]').first().waitFor();
      assert.ok((await page.locator('#timeline g[data-lane="vm:vmt"] rect.band').count()) >= 2);
      await page.mouse.move(0, 0);
      await shot(page, 'ha-timeline-zoomed.png');

      // Disable HA (maintenance) and enable it again, with the token.
      await page.fill('#token', readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim());
      await page.click('#token-save');
      await page.click('#btn-ha-disable');
      await page.locator('#action-msg.ok', { hasText: 'vmt: HA disabled' }).waitFor();
      await page.locator('#ha-state [data-state="disabled"]').waitFor({ timeout: 5000 });
      const api = (await (await fetch(`${s.url}/api/v1/ha`)).json()) as { vms: { vm: string; state: string }[] };
      assert.equal(api.vms.find((v) => v.vm === 'vmt')?.state, 'disabled');
      await shot(page, 'ha-disabled.png');
      await page.click('#btn-ha-enable');
      await page.locator('#action-msg.ok', { hasText: 'vmt: HA' }).waitFor();
      await page.locator('#ha-state [data-state]:not([data-state="disabled"])').waitFor({ timeout: 5000 });

      // The hypervisor's page: its state, its VMs, and their lanes.
      await page.goto(`${s.url}/#/hv/hv1`);
      await page.locator('#hv-summary [data-state="up"]').waitFor();
      await page.locator('#timeline g[data-lane="vm:vmt"] rect.band').first().waitFor();
      await page.locator('#timeline g[data-lane="hv:hv1"] rect.band[data-state="up"]').waitFor();
      await shot(page, 'ha-hypervisor.png');
      assert.deepEqual(errors.filter((e) => !/409/.test(e)), []);
      await page.close();
    } finally {
      await b.close();
      await s.stop();
      await hv.stop();
      service.close();
      cfg.cleanup();
    }
  });
});

describe('web dashboard: admission control', { skip: noSshd ?? false }, () => {
  it('shows the VM a hypervisor failure would strand and why, then "holds" live once a change makes room', async () => {
    // hv1 runs vmt; hv2 is too small for it, and hv3 is in maintenance: hv1's failure would
    // leave vmt without room. Taking hv3 out of maintenance through the API makes room: the
    // panel turns to "holds" without a reload. hv2 and hv3 run no VM, so they are only probed
    // (a TCP connect to their SSH port): a listener of this test on 127.0.0.2 and .3 answers.
    const hv = await startFakeHypervisor();
    const servicePort = await freePort();
    const listen = async (port: number, address: string) => {
      const srv = net.createServer((c) => c.on('error', () => undefined));
      await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, address, resolve));
      return srv;
    };
    const base = hv.config({ driver: 'libvirt', probePort: servicePort }) as { hypervisors: Record<string, unknown>[]; hosts: Record<string, unknown>[]; ha: Record<string, unknown> };
    const hv1 = base.hypervisors[0]!;
    const sshPort = (hv1.ssh as { port: number }).port;
    const listeners = [await listen(servicePort, '127.0.0.20'), await listen(sshPort, '127.0.0.2'), await listen(sshPort, '127.0.0.3')];
    const cfg = await writeLabConfig({
      ...base,
      hypervisors: [hv1, { ...hv1, name: 'hv2', address: '127.0.0.2', capacity: { memoryMb: 1536 } }, { ...hv1, name: 'hv3', address: '127.0.0.3', maintenance: true }],
      hosts: [{ ...base.hosts[0], memoryMb: 2048 }],
      ha: { ...base.ha, admission: { reserve: { cpuShare: 0.1, memoryShare: 0.25 } } },
    });
    const s = await serve(cfg);
    const b = await browse();
    try {
      const { page, errors } = await openPage(b.ctx, `${s.url}/`);
      await page.locator('#ha-line', { hasText: 'HA controller: running' }).waitFor();
      await page.locator('#admission-line[data-holds="false"]').waitFor({ timeout: 20_000 });
      assert.equal(await page.locator('#admission-line').textContent(), 'capacity: N+1 does not hold: hv1 failure would leave vmt without room: maintenance, memory');
      // The same words `3rc status` and the API give.
      const api = (await (await fetch(`${s.url}/api/v1/ha`)).json()) as { admission: { line: string } };
      assert.equal(await page.locator('#admission-line').textContent(), api.admission.line);
      const row = page.locator('#admission-table tr[data-case="hv1"][data-stranded="vmt"]');
      assert.equal(await row.locator('td.case').textContent(), 'hv1 failure would leave vmt without room');
      assert.equal(await row.locator('td.causes').textContent(), 'maintenance, memory');
      assert.equal(await row.locator('td.reason').textContent(), 'hv2 out of memory; hv3 in maintenance');
      assert.equal(await page.locator('#admission-table tbody tr').count(), 1);
      assert.equal(await page.locator('#admission-reserve').textContent(), '10% of CPUs and 25% of memory per hypervisor kept free for restarts');
      assert.match((await page.locator('#admission-scope').textContent())!, /^N\+1, failure of one hypervisor at a time: 2 failure cases planned$/);
      await shot(page, 'admission-fails.png');
      await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

      // hv3 out of maintenance (`3rc hv undrain hv3`): vmt would now restart there.
      const token = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
      const undrain = await fetch(`${s.url}/api/v1/hv/hv3/undrain`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      assert.equal(undrain.status, 200, await undrain.text());
      await page.locator('#admission-line[data-holds="true"]').waitFor({ timeout: 20_000 });
      assert.equal(await page.locator('#admission-line').textContent(), 'capacity: N+1 holds');
      assert.equal(await page.locator('#admission-table').count(), 0);
      assert.match((await page.locator('#admission-scope').textContent())!, /3 failure cases planned/);
      assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');
      await shot(page, 'admission-holds.png');
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      await b.close();
      await s.stop();
      await hv.stop();
      for (const l of listeners) l.close();
      cfg.cleanup();
    }
  });
});
