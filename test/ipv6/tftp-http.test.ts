/**
 * TFTP and HTTP over IPv6 with real clients (issue 23), in network namespaces on fd77::/64 only:
 * the real `3rc serve` in one namespace (network.ipv6 set, so TFTP and HTTP listen on `::` too);
 * tftp-hpa (`tftp -6`) and curl fetch a boot file over IPv6 byte for byte; the owner check holds
 * for IPv6 sources: vm10 (hosts[].ipv6 fd77::10), installing, gets its token-bearing files
 * (pxelinux.cfg over TFTP and HTTP, /ks, /boot/ipxe) from fd77::10, and fd77::99 gets not-found
 * (403 for /ks and /boot/ipxe, as over IPv4), traced in vm10's boot trace; from a link-local
 * source, the address vm10's MAC forms (modified EUI-64) gets them and any other link-local one
 * gets 403; the iPXE script asked for over IPv6 names 3rc's IPv6 address.
 * Needs root, tftp-hpa and curl; fails loudly when one is missing (CI installs them).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { StoreEvent } from '../../src/store/store.js';
import { serveInNetns } from '../dhcp/ns-serve.js';
import { Lab, netnsUnavailable } from '../lib/netns.js';
import { addr6, linkLocalReady, netns6 } from '../lib/netns6.js';
import { LAB_YAML, writeLabConfig } from '../lib/serve.js';

const VM10 = '52-54-00-77-00-10';
const OWNER = 'fd77::10';
const STRANGER = 'fd77::99';
/** The link-local address vm10's NIC forms from its MAC 52:54:00:77:00:10. */
const OWNER_LL = 'fe80::5054:ff:fe77:10';

/** curl in a namespace: status code and body (curl's own failures, such as TFTP not-found, as `curl: <exit code>`). */
function curl(lab: Lab, ns: string, args: string[]): { status: number | string; body: string } {
  try {
    const out = lab.exec(ns, 'curl', ['-g', '-sS', '--max-time', '20', '-o', '-', '-w', '\n%{http_code}', ...args]);
    const i = out.lastIndexOf('\n');
    return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
  } catch (err) {
    return { status: `curl: ${(err as { status?: number }).status}`, body: String((err as { stderr?: string }).stderr ?? '') };
  }
}

describe('TFTP and HTTP over IPv6 with real clients (fd77::/64)', { timeout: 120_000 }, () => {
  it('tftp -6 and curl fetch over IPv6; token-bearing answers go only to the host\'s own IPv6 address', async () => {
    const why = netnsUnavailable() ?? ['/usr/bin/tftp', '/usr/bin/curl'].filter((t) => !existsSync(t)).map((t) => `needs ${t} (scripts/install.sh --test installs it)`)[0];
    assert.equal(why, undefined, `IPv6 TFTP/HTTP real-client test cannot run: ${why}`);
    const hosts = (parse(readFileSync(LAB_YAML, 'utf8')) as { hosts: Record<string, unknown>[] }).hosts.map((h) => (h.name === 'vm10' ? { ...h, ipv6: OWNER } : h));
    const cfg = await writeLabConfig({
      hosts,
      log: { level: 'debug', maxLinesPerSecond: 0 },
      network: { ipv6: { serverIp: 'fd77::1', prefixes: [{ prefix: 'fd77::/64' }] } },
      // IPv4 on loopback only (writeLabConfig's free ports): every client below speaks IPv6.
      servers: { dhcp6: { listen: '::', port: 547 } },
    });
    const lab = new Lab('v6f');
    try {
      const boot = join(cfg.dir, 'boot');
      mkdirSync(boot, { recursive: true });
      const kernel = randomBytes(300_000);
      writeFileSync(join(boot, 'kernel'), kernel);
      const srv = netns6(lab, 'srv');
      const cli = netns6(lab, 'cli');
      const { ifA, ifB } = lab.link(srv, undefined, cli, undefined);
      addr6(lab, srv, ifA, 'fd77::1/64');
      addr6(lab, cli, ifB, `${OWNER}/64`);
      // The stranger's address is on the same interface, deprecated: only a client that binds it
      // (curl --interface) uses it; tftp-hpa, which cannot bind, speaks from the owner's.
      addr6(lab, cli, ifB, `${STRANGER}/64`, { deprecated: true });
      const served = await serveInNetns(lab, srv, cfg);
      const { tftp: tftpPort, http: httpPort } = cfg.ports;
      const http = `http://[fd77::1]:${httpPort}`;
      const asStranger = ['--interface', STRANGER];
      const out = join(cfg.dir, 'got');
      let token = '';
      let strangerLl = '';
      try {
        // vm10 installs: the API over IPv6 too.
        const apiToken = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
        const auth = ['-H', `Authorization: Bearer ${apiToken}`];
        assert.equal(curl(lab, cli, ['-X', 'PUT', ...auth, '-H', 'content-type: application/json', '-d', '{"mode":"install"}', `${http}/api/v1/hosts/vm10/boot`]).status, 200);
        token = /\?token=([0-9a-f]+)/.exec(curl(lab, cli, [...auth, `${http}/api/v1/hosts/vm10/render`]).body)?.[1] ?? '';
        assert.ok(token, 'the install token, from the render');
        // The operator's preview of what vm10 gets when it asks over IPv6 (3rc render --ipv6).
        const v6 = JSON.parse(curl(lab, cli, [...auth, `${http}/api/v1/hosts/vm10/render?family=ipv6`]).body) as { family: string; ipxe: { text: string }; grub: { text: string } };
        assert.equal(v6.family, 'ipv6');
        assert.match(v6.ipxe.text, new RegExp(`url=http://\\[fd77::1\\]:${httpPort}/ks/${VM10}\\?token=${token}`), v6.ipxe.text);
        assert.match(v6.grub.text, /\(tftp,fd77::1\)/, v6.grub.text);
        const odd = curl(lab, cli, [...auth, `${http}/api/v1/hosts/vm10/render?family=ipv5`]);
        assert.equal(odd.status, 400, odd.body);
        assert.match(odd.body, /family must be ipv4 or ipv6/);

        // A boot file over IPv6: tftp-hpa, curl's TFTP, curl's HTTP.
        lab.exec(cli, 'tftp', ['-6', 'fd77::1', String(tftpPort), '-m', 'binary', '-c', 'get', 'kernel', out]);
        assert.ok(readFileSync(out).equals(kernel), 'tftp-hpa -6');
        assert.ok(lab.exec(cli, 'curl', ['-g', '-sS', '--max-time', '20', '--tftp-blksize', '1468', '-o', `${out}2`, `tftp://[fd77::1]:${tftpPort}/kernel`]) === '' && readFileSync(`${out}2`).equals(kernel), 'curl tftp:// over IPv6');
        lab.exec(cli, 'curl', ['-g', '-sS', '--max-time', '20', '-o', `${out}3`, `${http}/boot/files/kernel`]);
        assert.ok(readFileSync(`${out}3`).equals(kernel), 'curl http:// over IPv6');

        // The install entry over TFTP: to the owner's IPv6 address (tftp-hpa), not to another one.
        const entry = `pxelinux.cfg/01-${VM10}`;
        lab.exec(cli, 'tftp', ['-6', 'fd77::1', String(tftpPort), '-c', 'get', entry, `${out}4`]);
        assert.match(readFileSync(`${out}4`, 'utf8'), new RegExp(`/ks/${VM10}\\?token=${token}`), 'the owner gets its entry over TFTP/IPv6');
        const refusedTftp = curl(lab, cli, [...asStranger, `tftp://[fd77::1]:${tftpPort}/${entry}`]);
        assert.equal(refusedTftp.status, 'curl: 68', `TFTP file not found for ${STRANGER}: ${refusedTftp.body}`);

        // Over HTTP: the loader config, the kickstart, the iPXE script.
        for (const [path, pattern, refused] of [
          [`/boot/files/${entry}`, new RegExp(`token=${token}`), 404],
          [`/ks/${VM10}?token=${token}`, /./, 403],
          [`/boot/ipxe/${VM10}`, new RegExp(`token=${token}`), 403],
        ] as const) {
          const own = curl(lab, cli, [`${http}${path}`]);
          assert.equal(own.status, 200, `${path} from ${OWNER}: ${own.body}`);
          assert.match(own.body, pattern, path);
          const other = curl(lab, cli, [...asStranger, `${http}${path}`]);
          assert.equal(other.status, refused, `${path} from ${STRANGER}: ${other.body}`);
          assert.ok(!other.body.includes(token), `no token for ${STRANGER} in ${path}`);
        }
        // Asked for over IPv6, the iPXE script names 3rc's IPv6 address in its URLs.
        const script = curl(lab, cli, [`${http}/boot/ipxe/${VM10}`]);
        assert.ok(script.body.includes(`url=${http}/ks/${VM10}?token=${token}`) && !/http:\/\/\d+\.\d+\.\d+\.\d+/.test(script.body), script.body);

        // From a link-local source: the one vm10's MAC forms (modified EUI-64, what Debian's
        // installer speaks from once it released its DHCPv6 address) is vm10's own; another
        // link-local address (cli's, from its random MAC) is nobody's. Both ask 3rc at its own
        // link-local address, so the kernel picks the link-local source.
        const ll = netns6(lab, 'll');
        const { ifA: srvIf2, ifB: llIf } = lab.link(srv, undefined, ll, undefined, { mac: VM10.replace(/-/g, ':') });
        assert.equal(await linkLocalReady(lab, ll, llIf), OWNER_LL, 'the link-local address of vm10\'s MAC');
        const viaLl = `http://[${await linkLocalReady(lab, srv, srvIf2)}%25${llIf}]:${httpPort}`;
        const viaCli = `http://[${await linkLocalReady(lab, srv, ifA)}%25${ifB}]:${httpPort}`;
        strangerLl = await linkLocalReady(lab, cli, ifB);
        for (const path of [`/ks/${VM10}?token=${token}`, `/boot/ipxe/${VM10}`]) {
          const own = curl(lab, ll, [`${viaLl}${path}`]);
          assert.equal(own.status, 200, `${path} from ${OWNER_LL}: ${own.body}`);
          const other = curl(lab, cli, [`${viaCli}${path}`]);
          assert.equal(other.status, 403, `${path} from ${strangerLl}: ${other.body}`);
          assert.ok(!other.body.includes(token), `no token for ${strangerLl} in ${path}`);
        }
      } finally {
        await served.stop();
      }
      const listening = served.lines.find((l) => l.includes('"msg":"3rc ready"')) ?? '';
      console.log(`3rc ready: ${listening}`);
      const logged = served.lines.filter((l) => l.includes('"reason":"not-owner"'));
      assert.ok(logged.some((l) => l.includes(`"peer":"[${STRANGER}]:`)) && logged.some((l) => l.includes(`"peer":"${STRANGER}"`)), 'both refusals (TFTP, HTTP) logged with the peer');

      // vm10's boot trace: its fetches over IPv6 (found by its IPv6 address), the refusals.
      const events = await storedEvents(cfg.data);
      const mine = events.filter((e) => e.mac === VM10.replace(/-/g, ':'));
      const peerOf = (e: StoreEvent) => String((e.data as { peer?: unknown } | null)?.peer ?? '');
      assert.ok(mine.some((e) => e.kind === 'tftp.transfer' && e.reason === 'complete' && peerOf(e).startsWith(`[${OWNER}]:`) && (e.data as { file?: string }).file === 'kernel'), 'the TFTP fetch of kernel is in vm10\'s trace');
      assert.ok(mine.some((e) => e.kind === 'http.file' && peerOf(e) === OWNER && (e.data as { file?: string }).file === '/boot/files/kernel'), 'the HTTP fetch of kernel is in vm10\'s trace');
      assert.ok(mine.some((e) => e.kind === 'tftp.transfer' && e.reason === 'refused' && peerOf(e).startsWith(`[${STRANGER}]:`)), 'the TFTP refusal is in vm10\'s trace');
      for (const kind of ['http.kickstart', 'http.ipxe']) {
        assert.ok(mine.some((e) => e.kind === kind && e.reason === 'wrong-source' && peerOf(e) === STRANGER), `the ${kind} refusal is in vm10's trace`);
        assert.ok(mine.some((e) => e.kind === kind && e.reason === null && peerOf(e) === OWNER), `the ${kind} answer is in vm10's trace`);
        assert.ok(mine.some((e) => e.kind === kind && e.reason === null && peerOf(e) === OWNER_LL), `the ${kind} answer to ${OWNER_LL} is in vm10's trace`);
        assert.ok(mine.some((e) => e.kind === kind && e.reason === 'wrong-source' && peerOf(e) === strangerLl), `the ${kind} refusal of ${strangerLl} is in vm10's trace`);
      }
      assert.ok(!JSON.stringify(events).includes(token), 'no install token in the event log');
    } finally {
      await lab.destroy();
      cfg.cleanup();
    }
  });
});

async function storedEvents(data: Record<string, unknown>): Promise<StoreEvent[]> {
  const store = SqliteStore.open({ path: (data.store as { path: string }).path });
  try {
    return await store.queryEvents({ limit: 100_000 });
  } finally {
    await store.close();
  }
}
