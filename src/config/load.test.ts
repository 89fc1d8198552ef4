import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { packageRoot } from '../lib/paths.js';
import { ConfigError } from '../lib/errors.js';
import { parseConfig } from './load.js';
import { afterCycle } from './rules.js';

const LAB = join(packageRoot(), 'examples', 'lab.yaml');
const labText = readFileSync(LAB, 'utf8');

/** lab.yaml with one change applied through the YAML document (so line numbers stay real). */
function labWith(edit: (doc: ReturnType<typeof parseDocument>) => void): string {
  const doc = parseDocument(labText);
  edit(doc);
  return doc.toString();
}

function problems(text: string, file = 'bad.yaml'): string[] {
  try {
    parseConfig(text, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message.split('\n');
  }
  assert.fail('the config was accepted');
}

describe('config: the example', () => {
  it('accepts examples/lab.yaml with the documented names, MACs and addresses', () => {
    const c = parseConfig(labText, LAB);
    assert.equal(c.network.domain, 'lab.test');
    assert.equal(c.network.serverIp, '10.77.0.1');
    assert.deepEqual(c.hypervisors.map((h) => [h.name, h.address]), [['hv1', '10.77.0.2'], ['hv2', '10.77.0.3']]);
    assert.deepEqual(
      c.hosts.map((h) => [h.name, h.mac, h.ip]),
      [10, 11, 12, 13, 14, 15].map((n) => [`vm${n}`, `52:54:00:77:00:${n}`, `10.77.0.${n}`]),
    );
    assert.ok(c.hosts.every((h) => h.role && h.hypervisor));
    assert.deepEqual(new Set(c.profiles.map((p) => p.installer)), new Set(['preseed', 'kickstart', 'image', 'cloud-image', 'autoinstall']));
    // Reservation-only: no pool anywhere.
    assert.ok(c.network.subnets.every((s) => !s.pool));
  });

  it('fills every default and resolves paths against the config file', () => {
    const c = parseConfig(labText, LAB);
    assert.equal(c.servers.dhcp.port, 67);
    assert.equal(c.servers.tftp.port, 69);
    assert.equal(c.servers.http.port, 80);
    assert.equal(c.servers.dns.port, 53);
    assert.equal(c.servers.dhcp.listen, '0.0.0.0');
    assert.equal(c.network.leaseTime, 3_600_000);
    assert.equal(c.ha.t1, 180_000);
    assert.equal(c.ha.budget.recoveries, 3);
    assert.equal(c.store.sync, 'full');
    assert.equal(c.store.path, join(packageRoot(), 'var', 'lab.db'));
    assert.equal(c.api.tokenFile, join(packageRoot(), 'var', 'api-token'));
    assert.equal(c.paths.kickstarts, join(packageRoot(), 'kickstarts'));
    assert.equal(c.hosts[3]!.reinstall, false);
    assert.equal(c.hosts[0]!.boot, 'local');
  });

  it('accepts a minimal config and canonicalises MACs and names', () => {
    const c = parseConfig(
      'network: { domain: Example.Test, serverIp: 10.77.5.1, subnets: [{ cidr: 10.77.5.0/24 }] }\n' +
        'profiles: [{ name: img, installer: image, kernel: k, initrd: i }]\n' +
        'hosts: [{ name: Node1, mac: 52-54-00-AA-BB-CC, ip: 10.77.5.9, profile: img }]\n',
      '/tmp/min.yaml',
    );
    assert.equal(c.network.domain, 'example.test');
    assert.equal(c.hosts[0]!.mac, '52:54:00:aa:bb:cc');
    assert.equal(c.hosts[0]!.name, 'node1');
    assert.equal(c.store.path, '/var/lib/3rc/3rc.db');
    // Every default duration comes out in milliseconds, like the durations an operator writes.
    assert.equal(c.network.leaseTime, 3_600_000);
    assert.deepEqual([c.ha.scanInterval, c.ha.t1, c.ha.t2, c.ha.budget.window], [10_000, 180_000, 180_000, 3_600_000]);
    assert.equal(c.install.timeout, 7_200_000);
    assert.deepEqual([c.servers.dhcp.offerHold, c.servers.dhcp.declineHold], [30_000, 600_000]);
    assert.equal(c.servers.tftp.timeout, 1000);
    assert.deepEqual([c.servers.dns.ttl, c.servers.dns.tcpIdleTimeout], [300_000, 10_000]);
  });
});

describe('config: loaders by client architecture', () => {
  it('defaults to Debian\'s loaders where a package has one, and leaves the other slots unset', () => {
    const c = parseConfig(labText, LAB);
    assert.deepEqual(c.servers.dhcp.bootFiles, { bios: 'pxelinux.0', efiX64: 'syslinux.efi', efiArm64: 'grubaa64.efi', httpX64: 'ipxe.efi', httpArm64: 'grubaa64.efi' });
    // Only the arm64 profile (grubaa64.efi) and the Secure Boot ones (the signed chain and its negative test) set a chain or loaders.
    assert.deepEqual(c.profiles.map((p) => [p.name, p.loaders, p.chain]).filter(([, l, ch]) => l !== undefined || ch !== undefined), [
      ['debian12-arm64', undefined, 'grub'],
      ['debian12-sb', { efiX64: 'shimx64.efi' }, 'grub'],
      ['debian12-unsigned', { efiX64: 'ipxe.efi' }, 'ipxe'],
    ]);
  });

  it('takes per-profile loaders and chain; a loader not under paths.boot yet is a warning', () => {
    const c = parseConfig(labWith((d) => {
      d.setIn(['servers', 'dhcp', 'bootFiles'], { efiIa32: 'efi32/syslinux.efi', httpX64: 'efi/ipxe.efi' });
      // A name boot/fetch.sh never copies, so that the warning does not depend on what boot/ holds.
      d.setIn(['profiles', 0, 'loaders'], { efiX64: 'vendor/shimx64.efi', httpX64: 'vendor/shimx64.efi' });
      d.setIn(['profiles', 0, 'chain'], 'grub');
    }), LAB);
    assert.equal(c.servers.dhcp.bootFiles.efiIa32, 'efi32/syslinux.efi');
    assert.equal(c.servers.dhcp.bootFiles.httpX64, 'efi/ipxe.efi');
    assert.equal(c.servers.dhcp.bootFiles.bios, 'pxelinux.0', 'the other slots keep their defaults');
    assert.deepEqual([c.profiles[0]!.loaders, c.profiles[0]!.chain], [{ efiX64: 'vendor/shimx64.efi', httpX64: 'vendor/shimx64.efi' }, 'grub']);
    assert.ok(c.warnings.some((w) => w.endsWith(`profiles[0].loaders.efiX64: vendor/shimx64.efi not found under ${c.paths.boot} yet (see boot/README.md)`)), c.warnings.join('\n'));
  });

  it('refuses an unknown slot, an unknown chain and a loader path that leaves the boot root, naming the field', () => {
    const text = labWith((d) => {
      d.setIn(['profiles', 0, 'loaders'], { efiX65: 'x.efi', httpArm64: '../grubaa64.efi' });
      d.setIn(['profiles', 1, 'chain'], 'lilo');
      d.setIn(['servers', 'dhcp', 'bootFiles'], { httpX64: '/srv/ipxe.efi', efiArm32: 'a b.efi', bios: '' });
    });
    const lines = problems(text);
    const bad = 'expected a path relative to paths.boot, like syslinux.efi or efi/shimx64.efi (no leading /, no .., no spaces)';
    const lineOf = (needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    assert.ok(lines.includes(`bad.yaml:${lineOf('efiX65')}: profiles[0].loaders.efiX65: unknown field "efiX65" (check the spelling against the config reference)`), lines.join('\n'));
    assert.ok(lines.includes(`bad.yaml:${lineOf('../grubaa64.efi')}: profiles[0].loaders.httpArm64: ${bad}, got string "../grubaa64.efi"`), lines.join('\n'));
    assert.ok(lines.some((l) => /profiles\[1\]\.chain: expected one of "pxelinux", "grub", "ipxe", got string "lilo"$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => l.endsWith(`servers.dhcp.bootFiles.httpX64: ${bad}, got string "/srv/ipxe.efi"`)), lines.join('\n'));
    assert.ok(lines.some((l) => l.endsWith(`servers.dhcp.bootFiles.efiArm32: ${bad}, got string "a b.efi"`)), lines.join('\n'));
    assert.ok(lines.some((l) => l.endsWith('servers.dhcp.bootFiles.bios: must not be empty')), lines.join('\n'));
    assert.equal(lines.length, 6, lines.join('\n'));
  });
});

describe('config: refused, with file, line, path and what was expected', () => {
  it('a malformed MAC names hosts[3].mac and its line', () => {
    const text = labWith((d) => d.setIn(['hosts', 3, 'mac'], 'zz:54:00:77:00:13'));
    const [line] = problems(text);
    const lineNo = text.split('\n').findIndex((l) => l.includes('zz:54:00:77:00:13')) + 1;
    assert.equal(line, `bad.yaml:${lineNo}: hosts[3].mac: expected a MAC address like 52:54:00:77:00:10, got string "zz:54:00:77:00:13"`);
  });

  it('duplicate MACs, IPs and names', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['hosts', 1, 'mac'], '52:54:00:77:00:10');
      d.setIn(['hosts', 2, 'ip'], '10.77.0.10');
      d.setIn(['hosts', 3, 'name'], 'vm10');
    }));
    assert.ok(lines.some((l) => /hosts\[1\]\.mac: duplicate MAC 52:54:00:77:00:10: already used by hosts\[0\]$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /hosts\[2\]\.ip: duplicate IP 10\.77\.0\.10: already used by hosts\[0\]$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /hosts\[3\]\.name: duplicate host name vm10: already used by hosts\[0\]$/.test(l)), lines.join('\n'));
    assert.equal(lines.length, 3);
  });

  it('the same MAC spelled differently is still a duplicate', () => {
    const lines = problems(labWith((d) => d.setIn(['hosts', 1, 'mac'], '52-54-00-77-00-10')));
    assert.match(lines[0]!, /hosts\[1\]\.mac: duplicate MAC 52:54:00:77:00:10/);
  });

  it('an IP outside every subnet', () => {
    const [line] = problems(labWith((d) => d.setIn(['hosts', 0, 'ip'], '10.77.9.10')));
    assert.match(line!, /^bad\.yaml:\d+: hosts\[0\]\.ip: 10\.77\.9\.10 is outside every subnet \(10\.77\.0\.0\/24\)$/);
  });

  it('a profile or hypervisor that does not exist', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['hosts', 2, 'profile'], 'centos7');
      d.setIn(['hosts', 1, 'hypervisor'], 'hv9');
    }));
    assert.ok(lines.some((l) => /hosts\[2\]\.profile: profile "centos7" does not exist \(profiles: debian12, debian12-image, debian12-cloud, capture, rocky9, debian12-arm64, debian12-sb, debian12-unsigned, ubuntu24\)$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /hosts\[1\]\.hypervisor: hypervisor "hv9" does not exist \(hypervisors: hv1, hv2\)$/.test(l)), lines.join('\n'));
  });

  it('a duplicate profile or hypervisor name', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['profiles', 1, 'name'], 'debian12');
      d.setIn(['hypervisors', 1, 'name'], 'hv1');
    }));
    assert.ok(lines.some((l) => /profiles\[1\]\.name: duplicate profile name debian12: already used by profiles\[0\]$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /hypervisors\[1\]\.name: duplicate hypervisor name hv1/.test(l)), lines.join('\n'));
  });

  it('a hypervisor with a MAC: needs a profile that exists, an address in a subnet, and no host of its MAC', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['hypervisors', 0, 'mac'], '52:54:00:77:00:02');
      d.setIn(['hypervisors', 1, 'mac'], '52:54:00:77:00:10');
      d.setIn(['hypervisors', 1, 'profile'], 'nope');
    }));
    assert.ok(lines.some((l) => /hypervisors\[0\]\.profile: a hypervisor with a MAC needs a profile/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /hypervisors\[1\]\.profile: profile "nope" does not exist/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /hypervisors\[1\]\.mac: host vm10 has the same MAC/.test(l)), lines.join('\n'));
    const c = parseConfig(labWith((d) => { d.setIn(['hypervisors', 0, 'mac'], '52-54-00-77-00-02'); d.setIn(['hypervisors', 0, 'profile'], 'debian12'); }), LAB);
    assert.equal(c.hypervisors[0]!.mac, '52:54:00:77:00:02');
  });

  it('a typo in a field name', () => {
    const [line] = problems(labWith((d) => d.setIn(['network', 'leaseTme'], '2h')));
    assert.match(line!, /^bad\.yaml:\d+: network\.leaseTme: unknown field "leaseTme"/);
  });

  it('a missing required field, a wrong type, a bad enum and a bad duration', () => {
    const lines = problems(labWith((d) => {
      d.deleteIn(['network', 'domain']);
      d.setIn(['servers'], { dhcp: { port: 'sixty-seven' } });
      d.setIn(['profiles', 0, 'installer'], 'autoyast');
      d.setIn(['ha', 't1'], 'soon');
    }));
    assert.ok(lines.some((l) => /network\.domain: is required \(expected a string\)$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /servers\.dhcp\.port: expected a number, got string "sixty-seven"$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /profiles\[0\]\.installer: expected one of "kickstart", "preseed", "image", "autoinstall", "cloud-image", got string "autoyast"$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /ha\.t1: expected a duration such as 90, 90s, 3m or 1h, got "soon"$/.test(l)), lines.join('\n'));
  });

  it('a command-driven hypervisor without templates, templates on another driver, and a template that cannot work', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['hypervisors', 0, 'driver'], 'command');
      d.setIn(['hypervisors', 1, 'command'], { commands: { list: 'qm list', state: 'qm status {{vmid}}', start: 'qm start {{vmid}}', stop: 'qm stop {{vmid}}', reset: 'qm reset {{vmid}}' } });
    }));
    assert.ok(lines.some((l) => /hypervisors\[0\]\.command: a hypervisor with driver command needs command templates/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /hypervisors\[1\]\.command: command templates apply only to driver command, not libvirt/.test(l)), lines.join('\n'));
    const bad = problems(labWith((d) => {
      d.setIn(['hypervisors', 0, 'driver'], 'command');
      d.setIn(['hypervisors', 0, 'command'], { commands: { list: 'qm list', state: "qm status '{{vmid}}'", start: 'qm start {{vmid}}', stop: 'qm stop {{vmid}}', reset: 'qm reset {{vmid}}' } });
    }));
    assert.equal(bad.length, 1, bad.join('\n'));
    assert.match(bad[0]!, /hypervisors\[0\]\.command: /);
  });

  it('a fence whose template cannot work', () => {
    const [line] = problems(labWith((d) => d.setIn(['hypervisors', 0, 'fence'], { off: "ipmitool -H '{{bmc}}' chassis power off", status: 'ipmitool -H {{bmc}} chassis power status', vars: { bmc: '10.77.9.2' } })));
    assert.match(line!, /^bad\.yaml:\d+: hypervisors\[0\]\.fence: /);
    const c = parseConfig(labWith((d) => d.setIn(['hypervisors', 0, 'fence'], { off: 'ipmitool -H {{bmc}} chassis power off', status: 'ipmitool -H {{bmc}} chassis power status', vars: { bmc: '10.77.9.2' } })), LAB);
    assert.equal(c.hypervisors[0]!.fence!.timeout, 20_000);
  });

  it('a role, an SSH key or a template variable that could break out of a script or a kickstart line', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJnx9/+N7/8gYeXEf09gNx+3JgE9GpcDzVV0F7QDa2WG';
    const text = labWith((d) => {
      d.setIn(['hosts', 3, 'role'], "x'; touch /tmp/pwned; '");
      d.setIn(['hosts', 4, 'role'], 'Middleware');
      d.setIn(['vars', 'sshKeys'], [`${key} ops@lab`, `${key} "$(id)"`, 'ssh-ed25519 AAAA`id` x', `command="sh" ${key}`, `ssh-rsa ${key.split(' ')[1]}`]);
      d.setIn(['profiles', 0, 'vars', 'locale'], 'en_US\n%post\ntouch /tmp/pwned\n%end');
      d.setIn(['hosts', 2, 'vars', 'motd'], { lines: ['ok', 'bad\rline'] });
    });
    const lineOf = (needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    assert.deepEqual(problems(text), [
      // The YAML writer folds this long item over lines: it starts on the line after item 0.
      `bad.yaml:${lineOf('ops@lab') + 1}: vars.sshKeys[1]: not an SSH public key: the comment holds a quote or a backslash, got ${JSON.stringify(`${key} "$(id)"`)}`,
      `bad.yaml:${lineOf('`id`')}: vars.sshKeys[2]: not an SSH public key: expected one public key: TYPE BASE64 [COMMENT], e.g. ssh-ed25519 AAAAC3Nz... user@host (no options, single spaces), got "ssh-ed25519 AAAA\`id\` x"`,
      `bad.yaml:${lineOf('command=')}: vars.sshKeys[3]: not an SSH public key: expected one public key: TYPE BASE64 [COMMENT], e.g. ssh-ed25519 AAAAC3Nz... user@host (no options, single spaces), got ${JSON.stringify(`command="sh" ${key}`)}`,
      `bad.yaml:${lineOf('ssh-rsa')}: vars.sshKeys[4]: not an SSH public key: the base64 part is not a ssh-rsa public key, got ${JSON.stringify(`ssh-rsa ${key.split(' ')[1]}`)}`,
      `bad.yaml:${lineOf('locale: |-')}: profiles[0].vars.locale: a template variable must not hold a control character (a newline would add lines to kickstarts, preseeds and scripts), got "en_US\\n%post\\ntouch /tmp/pwned\\n%end"`,
      `bad.yaml:${lineOf('bad\\r')}: hosts[2].vars.motd.lines[1]: a template variable must not hold a control character (a newline would add lines to kickstarts, preseeds and scripts), got "bad\\rline"`,
      `bad.yaml:${lineOf("touch /tmp/pwned; '")}: hosts[3].role: expected a role name: lowercase letters, digits, - and _, starting with a letter or digit, at most 63 characters, got string "x'; touch /tmp/pwned; '"`,
      `bad.yaml:${lineOf('Middleware')}: hosts[4].role: expected a role name: lowercase letters, digits, - and _, starting with a letter or digit, at most 63 characters, got string "Middleware"`,
    ]);
    // A key with a plain comment, and one without, are fine.
    const c = parseConfig(labWith((d) => d.setIn(['vars', 'sshKeys'], [`${key} ops@lab-1 (laptop)`, key])), LAB);
    assert.equal((c.vars.sshKeys as string[]).length, 2);
  });

  it('a physical host\'s power command with a placeholder that has no value, or one in quotes', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['hosts', 0, 'power'], { cycle: 'ipmitool -H {{bmc}} chassis power cycle' });
      d.setIn(['hosts', 1, 'power'], { cycle: 'ipmitool -H {{bmc}} chassis power cycle', off: "ipmitool -H '{{bmc}}' chassis power off" });
      d.setIn(['hosts', 1, 'vars', 'bmc'], '10.77.9.11');
    }));
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, /^bad\.yaml:\d+: hosts\[0\]\.power\.cycle: no value for \{\{bmc\}\} .*placeholders: \{\{host\}\}, \{\{ip\}\}, \{\{mac\}\} and the host's vars\)$/);
    assert.match(lines[1]!, /^bad\.yaml:\d+: hosts\[1\]\.power\.off: placeholder \{\{bmc\}\} is inside single quotes/);
    const c = parseConfig(labWith((d) => {
      d.setIn(['hosts', 1, 'power'], { cycle: 'ipmitool -H {{bmc}} chassis power cycle # {{host}} {{ip}} {{mac}}' });
      d.setIn(['hosts', 1, 'vars', 'bmc'], '10.77.9.11');
    }), LAB);
    assert.equal(c.hosts[1]!.power!.cycle, 'ipmitool -H {{bmc}} chassis power cycle # {{host}} {{ip}} {{mac}}');
  });

  it('a TFTP timeout too short to be a timeout', () => {
    const [line] = problems(labWith((d) => d.setIn(['servers'], { tftp: { timeout: '10ms' } })));
    assert.match(line!, /servers\.tftp\.timeout: expected a duration of at least 100ms, got less$/);
  });

  it('subnets that overlap, and a router or pool outside its subnet', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['network', 'subnets', 0, 'router'], '10.77.1.1');
      d.setIn(['network', 'subnets', 0, 'pool'], { start: '10.77.0.200', end: '10.77.1.20' });
      d.addIn(['network', 'subnets'], { cidr: '10.77.0.128/25' });
    }));
    assert.ok(lines.some((l) => /network\.subnets\[0\]\.router: router 10\.77\.1\.1 is outside its subnet 10\.77\.0\.0\/24$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /network\.subnets\[0\]\.pool\.end: pool end 10\.77\.1\.20 is outside its subnet/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /network\.subnets\[1\]\.cidr: subnet 10\.77\.0\.128\/25 overlaps network\.subnets\[0\] \(10\.77\.0\.0\/24\)$/.test(l)), lines.join('\n'));
  });

  it('a subnet with host bits set', () => {
    const [line] = problems(labWith((d) => d.setIn(['network', 'subnets', 0, 'cidr'], '10.77.0.1/24')));
    assert.match(line!, /network\.subnets\[0\]\.cidr: expected a subnet like 10\.77\.0\.0\/24/);
  });

  it('two UDP servers on one port', () => {
    const [line] = problems(labWith((d) => d.setIn(['servers'], { tftp: { port: 53 } })));
    assert.match(line!, /servers\.dns\.port: UDP port 53 is already used by servers\.tftp$/);
  });

  it('a kickstart profile without template, and a template that does not exist', () => {
    const lines = problems(labWith((d) => {
      d.deleteIn(['profiles', 0, 'template']);
      d.setIn(['profiles', 1, 'template'], 'nope.ks.hbs');
    }));
    assert.ok(lines.some((l) => /profiles\[0\]\.template: a preseed profile needs a template/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /profiles\[1\]\.template: template nope\.ks\.hbs not found in /.test(l)), lines.join('\n'));
  });

  it('a cloud-image profile without userData, and a userData template that does not exist', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['profiles', 1, 'installer'], 'cloud-image');
      d.setIn(['profiles', 7, 'userData'], 'nope.user-data.hbs');
    }));
    assert.ok(lines.some((l) => /profiles\[1\]\.userData: a cloud-image profile needs a userData template/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /profiles\[7\]\.userData: template nope\.user-data\.hbs not found in /.test(l)), lines.join('\n'));
  });

  it('YAML syntax errors, with their line', () => {
    const [line] = problems('network:\n  domain: lab.test\n  subnets: [\n', 'broken.yaml');
    assert.match(line!, /^broken\.yaml:\d+: YAML syntax error: /);
  });

  it('a duplicate key in the YAML itself', () => {
    const [line] = problems('network: {}\nnetwork: {}\n');
    assert.match(line!, /^bad\.yaml:2: YAML syntax error: Map keys must be unique/);
  });

  it('an empty file says what is required', () => {
    const [line] = problems('');
    assert.equal(line, 'bad.yaml:network: is required (expected a mapping (key: value))'.replace('bad.yaml:network', 'bad.yaml: network'));
  });

  it('reports every problem in one pass', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['hosts', 0, 'mac'], 'bad');
      d.setIn(['hosts', 1, 'ip'], '300.1.1.1');
      d.setIn(['hypervisors', 0, 'address'], 'nowhere');
    }));
    assert.equal(lines.length, 3, lines.join('\n'));
  });

  it('a file that cannot be read', async () => {
    const { loadConfig } = await import('./load.js');
    assert.throws(() => loadConfig('/nonexistent/3rc.yaml'), (err: ConfigError) => err.code === 'E_CONFIG_READ' && err.message === '/nonexistent/3rc.yaml: cannot read config: file not found');
  });
});

describe('config: HA placement rules and restart order', () => {
  it('accepts groups, hosts, after, rack and admission settings', () => {
    const c = parseConfig(labWith((d) => {
      d.setIn(['hosts', 0, 'after'], ['vm12']);
      d.setIn(['hosts', 1, 'hosts'], ['hv1']);
      d.setIn(['hosts', 1, 'hostsRequired'], false);
      d.setIn(['hypervisors', 0, 'rack'], 'r1');
      d.setIn(['ha', 'rules'], [{ antiAffinity: ['vm12', 'vm13'] }, { affinity: ['vm10', 'vm14'], strict: false }]);
      d.setIn(['ha', 'admission'], { failures: 1, domain: 'rack', reserve: { memoryShare: 0.1 } });
      d.setIn(['ha', 'restartOrder'], { timeout: '5m', timeoutApplies: false });
    }), LAB);
    assert.deepEqual(c.hosts[0]!.after, ['vm12']);
    assert.equal(c.hypervisors[0]!.rack, 'r1');
    assert.deepEqual(c.ha.rules, [{ antiAffinity: ['vm12', 'vm13'], strict: true }, { affinity: ['vm10', 'vm14'], strict: false }]);
    assert.deepEqual(c.ha.restartOrder, { timeout: 300_000, timeoutApplies: false });
    assert.deepEqual(c.ha.admission, { failures: 1, domain: 'rack', reserve: { cpuShare: 0, memoryShare: 0.1 } });
  });

  it('ha.reinstall.timeouts: the steps given, as ms; the others unset (their defaults are reinstall-hv.ts\'s)', () => {
    assert.deepEqual(parseConfig(labWith(() => {}), LAB).ha.reinstall, { timeouts: {} });
    const c = parseConfig(labWith((d) => d.setIn(['ha', 'reinstall'], { timeouts: { install: '2h', ready: '5m' } })), LAB);
    assert.deepEqual(c.ha.reinstall, { timeouts: { install: 7_200_000, ready: 300_000 } });
    const lines = problems(labWith((d) => d.setIn(['ha', 'reinstall'], { timeouts: { boot: '1m' } })));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /ha\.reinstall\.timeouts/);
  });

  it('refuses a restart order cycle, naming the cycle, the file and the field', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['hosts', 0, 'after'], ['vm12']); // vm10 after vm12
      d.setIn(['hosts', 2, 'after'], ['vm13']); // vm12 after vm13
      d.setIn(['hosts', 3, 'after'], ['vm10']); // vm13 after vm10
    }));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^bad\.yaml:\d+: hosts\[0\]\.after: restart order cycle vm10 -> vm12 -> vm13 -> vm10: expected after to name VMs that do not wait, directly or not, for vm10$/);
  });

  it('refuses unknown names in after, hosts and groups, and a group with both kinds', () => {
    const lines = problems(labWith((d) => {
      d.setIn(['hosts', 0, 'after'], ['vm99']);
      d.setIn(['hosts', 1, 'hosts'], ['hv9']);
      d.setIn(['ha', 'rules'], [{ antiAffinity: ['vm12', 'nosuch'] }]);
    }));
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.ok(lines.some((l) => /hosts\[0\]\.after\[0\]: expected a VM \(a host with a hypervisor\), got "vm99"/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /hosts\[1\]\.hosts\[0\]: hypervisor "hv9" does not exist \(hypervisors: hv1, hv2\)/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /ha\.rules\[0\]\.antiAffinity\[1\]: expected a VM .*got "nosuch"/.test(l)), lines.join('\n'));
    const both = problems(labWith((d) => d.setIn(['ha', 'rules'], [{ antiAffinity: ['vm12', 'vm13'], affinity: ['vm10', 'vm11'] }])));
    assert.match(both.join('\n'), /^bad\.yaml:\d+: ha\.rules\[0\]: expected exactly one of antiAffinity or affinity/);
  });

  it('afterCycle: none in a chain, the loop itself in a longer path', () => {
    assert.equal(afterCycle([{ name: 'web', after: ['app'] }, { name: 'app', after: ['db'] }, { name: 'db', after: [] }]), null);
    assert.deepEqual(afterCycle([{ name: 'a', after: ['b'] }, { name: 'b', after: ['c'] }, { name: 'c', after: ['b'] }]), ['b', 'c', 'b']);
  });
});
