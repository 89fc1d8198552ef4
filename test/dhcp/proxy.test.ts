/**
 * ProxyDHCP with a real site DHCP server: dnsmasq hands out addresses on the same Ethernet segment
 * (a bridge in a switch namespace), 3rc runs with `dhcp.mode: proxy`. A plain client (udhcpc)
 * gets its address from dnsmasq and nothing from 3rc; a PXE client (scripted, see pxe-client.py: its own codec, not 3rc's)
 * gets the address offer from dnsmasq and the boot file from 3rc, on port 67 and on 4011.
 * Needs root and dnsmasq; skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite.js';
import { Lab, netnsUnavailable } from '../lib/netns.js';
import { ROOT, writeLabConfig } from '../lib/serve.js';
import { serveInNetns } from './ns-serve.js';

const skip = netnsUnavailable() ?? (['/usr/sbin/dnsmasq', '/usr/sbin/udhcpc'].find((t) => !existsSync(t)) ? 'needs dnsmasq and udhcpc' : undefined);
if (skip) console.log(`ProxyDHCP test skipped: ${skip}`);

const VM10 = '52:54:00:77:00:10';

describe('dhcp: ProxyDHCP beside a real DHCP server', { skip, timeout: 60_000 }, () => {
  it('dnsmasq gives the address, 3rc the boot file', async () => {
    const lab = new Lab('dx');
    const tmp = mkdtempSync(join(tmpdir(), '3rc-proxy-'));
    try {
      const sw = lab.netns('sw');
      const srv = lab.netns('srv');
      const site = lab.netns('site');
      const cli = lab.netns('cli');
      execFileSync('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
      execFileSync('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
      const ports = [lab.link(sw, undefined, srv, '10.77.0.1/24'), lab.link(sw, undefined, site, '10.77.0.2/24'), lab.link(sw, undefined, cli, undefined, { mac: VM10 })];
      for (const p of ports) execFileSync('ip', ['-n', sw, 'link', 'set', p.ifA, 'master', 'br0']);
      const cliIf = ports[2]!.ifB;

      const dnsmasq = lab.spawn(site, '/usr/sbin/dnsmasq', [
        '-k', '-p', '0', '-C', '/dev/null', '--no-ping', '-u', 'root', '--dhcp-authoritative',
        '--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,1h', `--dhcp-leasefile=${join(tmp, 'leases')}`, `--pid-file=${join(tmp, 'pid')}`,
      ]);
      let dnsmasqLog = '';
      dnsmasq.stderr!.on('data', (d: Buffer) => (dnsmasqLog += d.toString()));
      const cfg = await writeLabConfig({ servers: { dhcp: { listen: '0.0.0.0', port: 67, mode: 'proxy', proxyPort: 4011 } } });
      const served = await serveInNetns(lab, srv, cfg);
      let offers: { offer?: Record<string, unknown>; ack?: Record<string, unknown> | null }[] = [];
      let env = '';
      try {
        assert.ok(served.lines.some((l) => l.includes('0.0.0.0:4011/udp')), 'no PXE boot-server socket');
        // A plain client: its address from dnsmasq; the script configures it, as a host would.
        const script = join(tmp, 'udhcpc.sh');
        const envFile = join(tmp, 'udhcpc.env');
        writeFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && { env > ${envFile}; ip addr add "$ip/24" dev "$interface"; }\nexit 0\n`);
        chmodSync(script, 0o755);
        lab.exec(cli, 'udhcpc', ['-i', cliIf, '-q', '-n', '-f', '-t', '3', '-T', '1', '-s', script], { timeoutMs: 20_000 });
        env = readFileSync(envFile, 'utf8');
        const ip = /^ip=(.*)$/m.exec(env)?.[1] ?? '';
        assert.match(ip, /^10\.77\.0\.1[0-5][0-9]$/, `${env}\n${dnsmasqLog}`);
        assert.match(env, /^serverid=10\.77\.0\.2$/m);
        // The PXE client: offers from both, then the boot-server request to 3rc on 4011.
        const out = lab.exec(cli, 'python3', [join(ROOT, 'test', 'dhcp', 'pxe-client.py'), VM10, '10.77.0.255', ip, '2'], { timeoutMs: 20_000 });
        offers = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as (typeof offers)[number]);
      } finally {
        await served.stop();
      }
      const site_ = offers.find((o) => o.offer?.serverId === '10.77.0.2')?.offer;
      const proxy = offers.find((o) => o.offer?.serverId === '10.77.0.1')?.offer;
      assert.ok(site_, `no offer from dnsmasq: ${JSON.stringify(offers)}`);
      assert.match(String(site_.yiaddr), /^10\.77\.0\.1[0-5][0-9]$/);
      assert.ok(proxy, `no proxy offer from 3rc: ${JSON.stringify(offers)}`);
      assert.deepEqual(proxy, { type: 2, serverId: '10.77.0.1', yiaddr: '0.0.0.0', siaddr: '10.77.0.1', file: 'pxelinux.0', vendorClass: 'PXEClient', opt43: '060108ff' });
      const ack = offers.find((o) => 'ack' in o)?.ack;
      assert.deepEqual(ack, { type: 5, serverId: '10.77.0.1', yiaddr: '0.0.0.0', siaddr: '10.77.0.1', file: 'pxelinux.0', vendorClass: 'PXEClient', opt43: '060108ff' });
      // 3rc wrote no lease and recorded why it let udhcpc go.
      const store = SqliteStore.open({ path: (cfg.data.store as { path: string }).path });
      try {
        assert.deepEqual(await store.listLeases(), []);
        const reasons = (await store.queryEvents({ mac: VM10 })).filter((e) => e.kind.startsWith('dhcp.')).map((e) => e.reason);
        assert.ok(reasons.includes('proxy-not-pxe-client'), reasons.join(' '));
        assert.ok(reasons.includes('proxy-offer') && reasons.includes('proxy-ack'), reasons.join(' '));
      } finally {
        await store.close();
      }
      cfg.cleanup();
    } finally {
      await lab.destroy();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
