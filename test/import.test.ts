/**
 * `3rc import` against the real servers: for ISC dhcpd, dnsmasq and Kea, a config the server
 * itself accepts (dhcpd -t, dnsmasq --test, kea-dhcp4 -t) with three reserved hosts and boot
 * files (one for everyone, one per host, one per client architecture) is imported; then the
 * original server and `3rc serve` run in turn in a network namespace (10.77.0.0/24, no route
 * out) and the same udhcpc client, its MAC set to each reserved host's, must get the same
 * address, next-server (siaddr) and boot file from both. Needs root and the servers; skips with
 * the reason otherwise.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { Lab, netnsUnavailable } from './lib/netns.js';
import { cli, type LabConfig } from './lib/serve.js';
import { serveInNetns } from './dhcp/ns-serve.js';

const SERVERS = { dhcpd: '/usr/sbin/dhcpd', dnsmasq: '/usr/sbin/dnsmasq', kea: '/usr/sbin/kea-dhcp4' } as const;
type Format = keyof typeof SERVERS;
const base = netnsUnavailable() ?? (existsSync('/usr/sbin/udhcpc') ? undefined : 'needs /usr/sbin/udhcpc (apt-get install udhcpc)');
const skipFor = (f: Format): string | undefined => base ?? (existsSync(SERVERS[f]) ? undefined : `needs ${SERVERS[f]} (scripts/install.sh --test installs it)`);

/** The reserved hosts every config declares, and what each must boot (no option 93: the BIOS file). */
const HOSTS = [
  { name: 'vm10', mac: '52:54:00:77:00:10', ip: '10.77.0.10', file: 'pxelinux.0' },
  { name: 'vm11', mac: '52:54:00:77:00:11', ip: '10.77.0.11', file: 'grubx64.efi' },
  { name: 'vm12', mac: '52:54:00:77:00:12', ip: '10.77.0.12', file: 'pxelinux.0' },
];
/** vm10 again as a UEFI x64 client (option 93 = 7), where the format has an architecture rule. */
const EFI_FILE = 'syslinux.efi';

const CONFIGS: Record<Format, { file: string; text: string; efi: boolean }> = {
  dhcpd: {
    file: 'dhcpd.conf',
    efi: false,
    text: `# dhcpd.conf for the import test
authoritative;
default-lease-time 600;
option domain-name "lab.test";
next-server 10.77.0.1;
filename "pxelinux.0";
subnet 10.77.0.0 netmask 255.255.255.0 {
  option routers 10.77.0.1;
  range 10.77.0.100 10.77.0.150;
}
host vm10 { hardware ethernet 52:54:00:77:00:10; fixed-address 10.77.0.10; }
host vm11 {
  hardware ethernet 52:54:00:77:00:11;
  fixed-address 10.77.0.11;
  filename "grubx64.efi";
}
host vm12 { hardware ethernet 52:54:00:77:00:12; fixed-address 10.77.0.12; }
`,
  },
  dnsmasq: {
    file: 'dnsmasq.conf',
    efi: true,
    text: `# dnsmasq.conf for the import test
port=0
domain=lab.test
dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,1h
dhcp-option=option:router,10.77.0.1
dhcp-match=set:efi64,option:client-arch,7
dhcp-boot=tag:efi64,${EFI_FILE},,10.77.0.1
dhcp-boot=pxelinux.0,,10.77.0.1
dhcp-host=52:54:00:77:00:10,10.77.0.10,vm10
dhcp-host=52:54:00:77:00:11,set:grub,10.77.0.11,vm11
dhcp-boot=tag:grub,grubx64.efi,,10.77.0.1
dhcp-host=52:54:00:77:00:12,10.77.0.12,vm12
`,
  },
  kea: {
    file: 'kea-dhcp4.conf',
    efi: true,
    text: `// kea-dhcp4.conf for the import test
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "*" ] },
    "lease-database": { "type": "memfile", "persist": false },
    "valid-lifetime": 3600,
    "next-server": "10.77.0.1",
    "boot-file-name": "pxelinux.0",
    "option-data": [ { "name": "domain-name", "data": "lab.test" } ],
    "client-classes": [
      # UEFI x64 clients
      { "name": "efi64", "test": "option[93].hex == 0x0007", "boot-file-name": "${EFI_FILE}" }
    ],
    "subnet4": [ {
      "id": 1,
      "subnet": "10.77.0.0/24",
      "pools": [ { "pool": "10.77.0.100 - 10.77.0.150" } ],
      "option-data": [ { "name": "routers", "data": "10.77.0.1" } ],
      "reservations": [
        { "hw-address": "52:54:00:77:00:10", "ip-address": "10.77.0.10", "hostname": "vm10" },
        { "hw-address": "52:54:00:77:00:11", "ip-address": "10.77.0.11", "hostname": "vm11", "boot-file-name": "grubx64.efi" },
        { "hw-address": "52:54:00:77:00:12", "ip-address": "10.77.0.12", "hostname": "vm12" }
      ]
    } ]
  }
}
`,
  },
};

let tmp = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), '3rc-import-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the server's own config check; throws with its output when it refuses the config. */
function serverAccepts(format: Format, file: string): void {
  const args = format === 'dhcpd' ? ['-t', '-cf', file] : format === 'dnsmasq' ? ['--test', `--conf-file=${file}`] : ['-t', file];
  execFileSync(SERVERS[format], args, { stdio: 'pipe', env: { ...process.env, KEA_LOCKFILE_DIR: tmp, KEA_PIDFILE_DIR: tmp } });
}

/** Starts the original server in `ns` on interface `ifname`. */
function startOriginal(lab: Lab, ns: string, ifname: string, format: Format, file: string, dir: string): void {
  const env = { ...process.env, KEA_LOCKFILE_DIR: dir, KEA_PIDFILE_DIR: dir };
  if (format === 'dhcpd') {
    writeFileSync(join(dir, 'dhcpd.leases'), '');
    lab.spawn(ns, SERVERS.dhcpd, ['-4', '-f', '-cf', file, '-lf', join(dir, 'dhcpd.leases'), '-pf', join(dir, 'dhcpd.pid'), ifname]);
  } else if (format === 'dnsmasq') {
    lab.spawn(ns, SERVERS.dnsmasq, ['-k', `--conf-file=${file}`, `--interface=${ifname}`, '--bind-interfaces', '--user=root', `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`]);
  } else {
    lab.spawn(ns, SERVERS.kea, ['-c', file], { env });
  }
}

interface Got {
  ip?: string;
  siaddr?: string;
  boot_file?: string;
}

/** udhcpc in `ns` with `mac` (and option 93 when `arch` is set); what it was given. */
function client(lab: Lab, ns: string, ifname: string, mac: string, arch?: number): Got {
  execFileSync('ip', ['-n', ns, 'link', 'set', ifname, 'down']);
  execFileSync('ip', ['-n', ns, 'link', 'set', ifname, 'address', mac]);
  execFileSync('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
  const file = join(tmp, 'udhcpc.env');
  rmSync(file, { force: true });
  const script = join(tmp, 'udhcpc.sh');
  writeFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && env > ${file}\nexit 0\n`);
  chmodSync(script, 0o755);
  const extra = arch === undefined ? [] : ['-x', `0x5d:${arch.toString(16).padStart(4, '0')}`];
  // -t 8 -T 1: a server still starting gets eight seconds (a bound against a hang, not a timing requirement).
  try {
    lab.exec(ns, 'udhcpc', ['-i', ifname, '-q', '-n', '-f', '-t', '8', '-T', '1', '-s', script, ...extra], { timeoutMs: 30_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ip: `no lease: ${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  return { ip: env.ip, siaddr: env.siaddr, boot_file: env.boot_file };
}

/** What every reserved host (and vm10 as UEFI x64) gets from the server running in `srv`. */
function askAll(lab: Lab, cli: string, ifname: string, efi: boolean): Record<string, Got> {
  const out: Record<string, Got> = {};
  for (const h of HOSTS) out[h.name] = client(lab, cli, ifname, h.mac);
  if (efi) out['vm10-efi'] = client(lab, cli, ifname, HOSTS[0]!.mac, 7);
  return out;
}

for (const format of Object.keys(SERVERS) as Format[]) {
  const skip = skipFor(format);
  if (skip) console.log(`import ${format} test skipped: ${skip}`);
  describe(`3rc import ${format}: the original server and 3rc answer the same`, { skip, timeout: 180_000 }, () => {
    it('every reserved client gets the same address, next-server and boot file', async () => {
      const dir = mkdtempSync(join(tmp, `${format}-`));
      const spec = CONFIGS[format];
      const original = join(dir, spec.file);
      writeFileSync(original, spec.text);
      serverAccepts(format, original);

      const imported = await cli(['import', format, original]);
      assert.equal(imported.code, 0, imported.stderr);
      const config = parse(imported.stdout) as Record<string, unknown>;
      assert.deepEqual((config.hosts as Array<{ name: string }>).map((h) => h.name), HOSTS.map((h) => h.name));
      // The servers' own plumbing (authoritative, port=0, interfaces-config...) is reported, not dropped.
      assert.match(imported.stderr, new RegExp(`${spec.file}:\\d+: .* has no 3rc equivalent, left out`));
      const cfgFile = join(dir, '3rc.yaml');
      writeFileSync(cfgFile, stringify({
        ...config,
        servers: { ...(config.servers as object), dhcp: { ...((config.servers as { dhcp?: object } | undefined)?.dhcp ?? {}), listen: '0.0.0.0', port: 67 } },
        store: { path: join(dir, '3rc.db'), sync: 'normal' },
        paths: { boot: join(dir, 'boot') },
      }));
      const check = await cli(['check-config', '--config', cfgFile]);
      assert.equal(check.code, 0, check.stderr);

      const lab = new Lab('im');
      let fromOriginal: Record<string, Got>;
      let from3rc: Record<string, Got>;
      try {
        const srv = lab.netns('srv');
        const cl = lab.netns('cli');
        const { ifA, ifB } = lab.link(srv, '10.77.0.1/24', cl, undefined);
        startOriginal(lab, srv, ifA, format, original, dir);
        fromOriginal = askAll(lab, cl, ifB, spec.efi);
        await lab.destroy();

        const srv2 = lab.netns('srv2');
        const cl2 = lab.netns('cli2');
        const link2 = lab.link(srv2, '10.77.0.1/24', cl2, undefined);
        const served = await serveInNetns(lab, srv2, { file: cfgFile } as LabConfig);
        try {
          from3rc = askAll(lab, cl2, link2.ifB, spec.efi);
        } finally {
          await served.stop();
        }
      } finally {
        await lab.destroy();
      }
      // The original answers as its config says (so that equal answers mean something)...
      for (const h of HOSTS) assert.deepEqual(fromOriginal[h.name], { ip: h.ip, siaddr: '10.77.0.1', boot_file: h.file }, `${format} to ${h.name}`);
      if (spec.efi) assert.deepEqual(fromOriginal['vm10-efi'], { ip: HOSTS[0]!.ip, siaddr: '10.77.0.1', boot_file: EFI_FILE });
      // ...and 3rc, from the imported config, answers the same.
      assert.deepEqual(from3rc, fromOriginal);
    });
  });
}
