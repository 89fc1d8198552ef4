/**
 * 3rc's DHCPv6 server with real clients, in network namespaces, on the ULA prefixes fd77::/64
 * and fd77:0:0:1::/64 only: the real `3rc serve` in one namespace; `dhclient -6` gets its
 * reserved address and boot URL; `dhcrelay -6` relays from another segment (link-address and
 * interface-id); `perfdhcp -6` runs thousands of exchanges with no address given to two clients.
 * Needs root and the tools; fails loudly when a tool is missing (CI installs them).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { Lease } from '../../src/domain/lease.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { StoreEvent } from '../../src/store/store.js';
import { Lab, netnsUnavailable } from '../lib/netns.js';
import { addr6, linkLocalReady, netns6 } from '../lib/netns6.js';
import { LAB_YAML, writeLabConfig, type LabConfig } from '../lib/serve.js';
import { serveInNetns } from '../dhcp/ns-serve.js';

const TOOLS = ['/usr/sbin/dhclient', '/usr/sbin/dhcrelay', '/usr/sbin/perfdhcp', '/usr/sbin/sysctl'];
const VM10 = '52:54:00:77:00:10';
const VM12 = '52:54:00:77:00:12';
let tmp = '';

before(() => {
  const why = netnsUnavailable() ?? TOOLS.filter((t) => !existsSync(t)).map((t) => `needs ${t} (scripts/install.sh --test installs it)`)[0];
  assert.equal(why, undefined, `dhcp6 real-client tests cannot run: ${why}`);
  tmp = mkdtempSync(join(tmpdir(), '3rc-dhcp6-clients-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** lab.yaml with IPv6: vm10 reserved fd77::10, vm12 fd77:0:0:1::12 (the relayed segment), and `extra`. */
function config6(extra: Record<string, unknown> = {}, pools = false): Promise<LabConfig> {
  const hosts = (parse(readFileSync(LAB_YAML, 'utf8')) as { hosts: Record<string, unknown>[] }).hosts.map((h) =>
    h.name === 'vm10' ? { ...h, ipv6: 'fd77::10' } : h.name === 'vm12' ? { ...h, ipv6: 'fd77:0:0:1::12' } : h,
  );
  return writeLabConfig({
    hosts,
    log: { level: 'debug', maxLinesPerSecond: 0 },
    network: {
      ipv6: {
        serverIp: 'fd77::1',
        prefixes: [
          { prefix: 'fd77::/64', ...(pools ? { pool: { start: 'fd77::1000', end: 'fd77::1fff' } } : {}) },
          { prefix: 'fd77:0:0:1::/64' },
        ],
      },
    },
    ...extra,
    servers: { dhcp6: { listen: '::', port: 547 }, ...((extra.servers as object) ?? {}) },
  });
}

async function storedEvents(cfg: LabConfig): Promise<StoreEvent[]> {
  const store = SqliteStore.open({ path: (cfg.data.store as { path: string }).path });
  try {
    return await store.queryEvents({ limit: 100_000 });
  } finally {
    await store.close();
  }
}

async function storedLeases(cfg: LabConfig): Promise<Lease[]> {
  const store = SqliteStore.open({ path: (cfg.data.store as { path: string }).path });
  try {
    return await store.listLeases();
  } finally {
    await store.close();
  }
}

/** Runs dhclient -6 once (DUID-LL of the interface), asking for the boot URL; returns the lease file. */
/** dhclient -6 once on `ifname`, after the kernel gave it its link-local address (a client started before fails). */
async function dhclient6(lab: Lab, ns: string, ifname: string, name: string): Promise<string> {
  await linkLocalReady(lab, ns, ifname);
  const lf = join(tmp, `${name}.leases`);
  const cf = join(tmp, `${name}.conf`);
  writeFileSync(cf, 'also request dhcp6.bootfile-url;\n');
  lab.exec(ns, 'dhclient', ['-6', '-1', '-v', '-D', 'LL', '-cf', cf, '-sf', '/bin/true', '-lf', lf, '-pf', join(tmp, `${name}.pid`), ifname], { timeoutMs: 30_000 });
  const text = readFileSync(lf, 'utf8');
  console.log(`${name} lease file:\n${text}`);
  return text;
}

describe('dhcp6: real clients in namespaces (fd77::/64)', { timeout: 180_000 }, () => {
  it('dhclient -6 gets its reserved address and the boot URL; the lease is in the store', async () => {
    const lab = new Lab('d6c');
    try {
      const srv = netns6(lab, 'srv');
      const cli = netns6(lab, 'cli');
      const { ifA, ifB } = lab.link(srv, undefined, cli, undefined, { mac: VM10 });
      addr6(lab, srv, ifA, 'fd77::1/64');
      const cfg = await config6();
      const served = await serveInNetns(lab, srv, cfg);
      let lease = '';
      let metrics = '';
      try {
        lease = await dhclient6(lab, cli, ifB, 'dhclient6');
        metrics = lab.exec(srv, 'curl', ['-s', '-m', '5', `http://127.0.0.1:${cfg.ports.http}/metrics`]);
      } finally {
        await served.stop();
      }
      // DHCPv6 in /metrics, as DHCPv4 is (threerc_dhcp_packets_total).
      assert.match(metrics, /threerc_dhcp6_packets_total\{type="solicit",outcome="[^"]+"\} [1-9]/);
      assert.match(lease, /iaaddr fd77::10 \{/);
      assert.match(lease, /option dhcp6\.bootfile-url "tftp:\/\/\[fd77::1\]\/pxelinux\.0";/);
      assert.match(lease, /option dhcp6\.name-servers fd77::1;/);
      assert.match(lease, /option dhcp6\.domain-search "lab\.test\.";/);
      const leases = await storedLeases(cfg);
      assert.deepEqual(leases.filter((l) => l.ip.includes(':')).map((l) => [l.ip, l.mac, l.state]), [['fd77::10', VM10, 'bound']]);
      cfg.cleanup();
    } finally {
      await lab.destroy();
    }
  });

  it('dhcrelay -6 (with -I, interface-id) relays from another segment: the relay\'s link-address picks the prefix and the reservation there', async () => {
    const lab = new Lab('d6r');
    try {
      const srv = netns6(lab, 'srv');
      const relay = netns6(lab, 'rly');
      const cli = netns6(lab, 'cli');
      const up = lab.link(srv, undefined, relay, undefined);
      const down = lab.link(relay, undefined, cli, undefined, { mac: VM12 });
      addr6(lab, srv, up.ifA, 'fd77::1/64');
      addr6(lab, relay, up.ifB, 'fd77::2/64');
      addr6(lab, relay, down.ifA, 'fd77:0:0:1::1/64');
      lab.exec(srv, 'ip', ['-6', 'route', 'add', 'fd77:0:0:1::/64', 'via', 'fd77::2']);
      const cfg = await config6();
      const served = await serveInNetns(lab, srv, cfg);
      let lease = '';
      try {
        // -I: add an interface-id (RFC 8415 section 21.18), which the Relay-reply must carry back.
        for (const i of [up.ifB, down.ifA]) await linkLocalReady(lab, relay, i);
        const rp = lab.spawn(relay, 'dhcrelay', ['-6', '-d', '--no-pid', '-I', '-l', down.ifA, '-u', `fd77::1%${up.ifB}`]);
        let relayLog = '';
        rp.stderr!.on('data', (d: Buffer) => (relayLog += d.toString()));
        rp.stdout!.on('data', (d: Buffer) => (relayLog += d.toString()));
        const end = Date.now() + 10_000;
        while (!/Sending on|Listening on/.test(relayLog) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
        await new Promise((r) => setTimeout(r, 300));
        lease = await dhclient6(lab, cli, down.ifB, 'relayed');
        console.log(`dhcrelay:\n${relayLog}`);
      } finally {
        await served.stop();
      }
      assert.match(lease, /iaaddr fd77:0:0:1::12 \{/);
      const relayed = served.lines.filter((l) => l.includes('dhcp6: request answered'));
      assert.ok(relayed.some((l) => l.includes('"ip":"fd77:0:0:1::12"')), served.lines.slice(-20).join('\n'));
      cfg.cleanup();
    } finally {
      await lab.destroy();
    }
  });

  it('perfdhcp -6: thousands of exchanges, none dropped, never one address to two clients', async () => {
    const lab = new Lab('d6p');
    try {
      const srv = netns6(lab, 'srv');
      const cli = netns6(lab, 'cli');
      const { ifA, ifB } = lab.link(srv, undefined, cli, undefined);
      addr6(lab, srv, ifA, 'fd77::1/64');
      const cfg = await config6({ servers: { dhcp6: { ratePerClient: 1000 } }, events: { writesPerSecond: 10_000 } }, true);
      const served = await serveInNetns(lab, srv, cfg);
      let out = '';
      let status: number | null = null;
      try {
        // 600 clients (-R) for 4096 pool addresses; 3000 four-message exchanges at 250/s. perfdhcp
        // needs the client interface's link-local address (a CI run once started it too early).
        await linkLocalReady(lab, cli, ifB);
        const p = lab.spawn(cli, 'perfdhcp', ['-6', '-l', ifB, '-r', '250', '-R', '600', '-n', '3000', '-p', '60', '-d', '5', '-W', '5000000']);
        p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        status = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
      } finally {
        await served.stop();
      }
      const sent = [...out.matchAll(/sent packets: (\d+)/g)].map((m) => Number(m[1]));
      const drops = [...out.matchAll(/drops: (\d+)/g)].map((m) => Number(m[1]));
      assert.deepEqual(sent, [3000, 3000], out);
      assert.deepEqual(drops, [0, 0], out);
      assert.equal(status, 0, out);
      // Every Reply to a Request, from the server's own log: one address never went to two clients.
      const owner = new Map<string, string>();
      let replies = 0;
      for (const line of served.lines) {
        if (!line.includes('"msg":"dhcp6: request answered"')) continue;
        const l = JSON.parse(line) as { ip: string; duid?: string; mac?: string | null; reason: string };
        if (l.reason !== 'reply-request') continue;
        replies++;
        const who = l.mac ?? l.duid!;
        assert.equal(owner.get(l.ip) ?? who, who, `${l.ip} given to ${owner.get(l.ip)} and ${who}`);
        owner.set(l.ip, who);
      }
      assert.ok(replies >= 3000, `only ${replies} Replies logged`);
      console.log(`perfdhcp -6: ${replies} Replies, no address given to two clients, ${owner.size} distinct addresses`);
      // The trace has every Reply too: a client holding an IPv6 lease counts as known (not as unknown traffic).
      const events = await storedEvents(cfg);
      const traced = events.filter((e) => e.kind === 'dhcp6.request' && e.reason === 'reply-request').length;
      assert.ok(traced >= 3000, `only ${traced} dhcp6.request events recorded`);
      const bound = (await storedLeases(cfg)).filter((l) => l.ip.includes(':') && l.state === 'bound');
      assert.equal(new Set(bound.map((l) => l.clientId)).size, bound.length, 'a client holds two bound leases for one IA');
      assert.ok(bound.length > 100 && bound.length <= 600, `${bound.length} bound leases`);
      cfg.cleanup();
    } finally {
      await lab.destroy();
    }
  });
});
