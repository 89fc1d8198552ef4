/**
 * Captures real DHCP clients' packets for the codec's golden tests (run by hand, as root:
 * `node dist/test/dhcp/capture.js`). tcpdump is not assumed: a small UDP listener on port 67 in a
 * namespace writes each payload to src/dhcp/testdata/<client>-<type>.hex and answers DISCOVER
 * with a minimal OFFER and REQUEST with an ACK, so that the clients go on to send their REQUEST.
 * Then dhclient and udhcpc run in a second namespace with vm10's MAC. The golden text dumps are
 * written by the golden test itself when UPDATE_GOLDEN=1.
 *
 * qemu's iPXE ROM and OVMF captures belong to the lab issue (they need qemu in the namespace).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/lib/paths.js';
import { Lab, netnsUnavailable } from '../lib/netns.js';

const ROOT = packageRoot();
const OUT = join(ROOT, 'src', 'dhcp', 'testdata');

const listener = `
const dgram = require('node:dgram');
const fs = require('node:fs');
(async () => {
  const { decode, encode, emptyPacket } = await import(${JSON.stringify(join(ROOT, 'dist/src/dhcp/packet.js'))});
  const { F, setField, messageTypeName, getField } = await import(${JSON.stringify(join(ROOT, 'dist/src/dhcp/options.js'))});
  const client = process.argv[1];
  const s = dgram.createSocket('udp4');
  const seen = {};
  s.on('message', (m) => {
    const p = decode(m);
    const t = getField(p.options, F.messageType);
    const name = messageTypeName(t);
    // A second packet of the same type (dhclient's INIT-REBOOT after its SELECTING REQUEST)
    // gets its own file: <client>-<type>-2.hex.
    seen[name] = (seen[name] || 0) + 1;
    const file = client + '-' + name + (seen[name] > 1 ? '-' + seen[name] : '') + '.hex';
    fs.writeFileSync(${JSON.stringify(OUT)} + '/' + file, Buffer.from(m).toString('hex').replace(/(.{64})/g, '$1\\n').trim() + '\\n');
    console.log('captured', file, m.length);
    if (t !== 1 && t !== 3) return;
    const r = emptyPacket(2);
    Object.assign(r, { xid: p.xid, flags: p.flags, chaddr: p.chaddr, yiaddr: '10.77.0.10', siaddr: '10.77.0.1' });
    setField(r.options, F.messageType, t === 1 ? 2 : 5);
    setField(r.options, F.serverId, '10.77.0.1');
    setField(r.options, F.leaseTime, 3600);
    setField(r.options, F.subnetMask, '255.255.255.0');
    s.send(encode(r), 68, '10.77.0.255');
  });
  s.bind(67, '0.0.0.0', () => { s.setBroadcast(true); console.log('listening'); });
})();
`;

async function main(): Promise<void> {
  const why = netnsUnavailable();
  if (why) throw new Error(`cannot capture: ${why}`);
  const lab = new Lab('cap');
  const tmp = mkdtempSync(join(tmpdir(), '3rc-cap-'));
  try {
    const srv = lab.netns('srv');
    const cli = lab.netns('cli');
    const { ifB } = lab.link(srv, '10.77.0.1/24', cli, undefined, { mac: '52:54:00:77:00:10' });
    for (const client of ['dhclient', 'udhcpc']) {
      const l = lab.spawn(srv, process.execPath, ['-e', listener, client]);
      await new Promise<void>((resolve) => l.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()));
      l.stdout!.on('data', (d: Buffer) => process.stdout.write(d));
      if (client === 'dhclient') {
        lab.exec(cli, 'dhclient', ['-1', '-v', '-sf', '/bin/true', '-lf', join(tmp, 'lease'), '-pf', join(tmp, 'pid'), ifB], { timeoutMs: 30_000 });
        try { lab.exec(cli, 'dhclient', ['-x', '-pf', join(tmp, 'pid'), '-lf', join(tmp, 'lease'), '-sf', '/bin/true', ifB]); } catch { /* gone */ }
      } else {
        lab.exec(cli, 'udhcpc', ['-i', ifB, '-q', '-n', '-f', '-t', '3', '-T', '2', '-s', '/bin/true'], { timeoutMs: 30_000 });
      }
      l.kill('SIGKILL');
      await new Promise((r) => l.once('exit', r));
    }
    console.log(execFileSync('ls', ['-l', OUT], { encoding: 'utf8' }));
  } finally {
    await lab.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
