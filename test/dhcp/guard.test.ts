/**
 * The DHCP server's error boundary with real sockets on loopback: ProxyDHCP mode, whose PXE
 * boot-server answers (port 4011) go back to the source, so a client on 127.0.0.1 gets them.
 * A handler that throws (a failing inventory) or a datagram from a source that cannot be answered
 * (port 0, handed to the socket's handler: no real socket sends from it) is counted, and the
 * server answers the next client.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { it } from 'node:test';
import { DhcpServer } from '../../src/dhcp/server.js';
import { LeaseTable } from '../../src/dhcp/lease-table.js';
import { F, getField, MessageType } from '../../src/dhcp/options.js';
import { decode, encode } from '../../src/dhcp/packet.js';
import { labConfig, request } from '../../src/dhcp/testkit.js';
import { Inventory } from '../../src/inventory/inventory.js';
import { memoryTrace } from '../../src/inventory/trace.js';
import { FakeClock } from '../../src/lib/clock.js';
import { PacketGuard } from '../../src/lib/guard.js';
import { silentLogger } from '../../src/lib/log.js';
import { MemoryStore } from '../../src/store/memory.js';
import { freePort } from '../lib/serve.js';

const VM10 = '52:54:00:77:00:10';
const POISON = '52:54:00:66:66:66';

it('ProxyDHCP on loopback: a throwing handler and a port-0 source are counted; the next client is answered', async () => {
  const config = labConfig();
  config.servers.dhcp = { ...config.servers.dhcp, mode: 'proxy', listen: '127.0.0.1', port: await freePort(), proxyPort: await freePort() };
  const real = Inventory.fromConfig(config);
  const inventory = {
    hostByMac: (m: string) => {
      if (m === POISON) throw new Error('inventory backend failed');
      return real.hostByMac(m);
    },
    hostByIp: (ip: string) => real.hostByIp(ip),
  };
  const boot = new Map(config.hosts.map((h) => [h.mac, { mac: h.mac, mode: 'local' as const, profile: h.profile, token: null, since: 0 }]));
  const guard = new PacketGuard();
  const server = new DhcpServer({ config, inventory, bootTable: { get: (m: string) => boot.get(m) }, leases: await LeaseTable.load(new MemoryStore()), clock: new FakeClock(), log: silentLogger, trace: memoryTrace(), guard });
  await server.start();
  const client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  const replies: ReturnType<typeof decode>[] = [];
  client.on('message', (m) => replies.push(decode(m)));
  const pxe = (mac: string, xid: number) => encode(request({ type: MessageType.REQUEST, mac, xid, ciaddr: '10.77.0.10', options: [[60, [...Buffer.from('PXEClient:Arch:00000:UNDI:002001')]]] }));
  const until = async (cond: () => boolean) => {
    for (let i = 0; !cond(); i++) {
      if (i > 1000) throw new Error('condition never met');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    client.send(pxe(POISON, 1), config.servers.dhcp.proxyPort, '127.0.0.1');
    await until(() => guard.failures.get('dhcp') === 1);
    server.receive(pxe(VM10, 2), { address: '127.0.0.1', port: 0 }, 'pxe');
    assert.equal(guard.dropped.get('dhcp:port-0'), 1);
    client.send(pxe(VM10, 3), config.servers.dhcp.proxyPort, '127.0.0.1');
    await until(() => replies.length === 1);
    assert.equal(replies[0]!.xid, 3);
    assert.equal(getField(replies[0]!.options, F.messageType), MessageType.ACK);
    assert.equal(replies[0]!.file, 'pxelinux.0');
  } finally {
    client.close();
    await server.stop();
  }
});
