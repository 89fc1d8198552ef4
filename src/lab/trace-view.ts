/**
 * One line per boot-trace event, for `3rc lab` and the lab tests' output:
 *
 *   vm10  +2.1s  dhcp   ACK 10.77.0.10, boot file pxelinux.0 (BIOS)
 *   vm10  +18.4s tftp   pxelinux.0  42.4 kB in 0.21 s (202 kB/s)
 *   vm10  +81.0s http   kickstart (debian12) 2.1 kB
 *
 * Pure: events in, text out.
 */
import { archName } from '../boot/client.js';
import { assertNever, isEventKind } from '../events/kinds.js';
import type { StoreEvent } from '../store/store.js';

type Data = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function sizeAndSpeed(bytes: number | undefined, ms: number | undefined): string {
  if (bytes === undefined) return '';
  if (ms === undefined) return formatBytes(bytes);
  const s = ms / 1000;
  const rate = s > 0 ? ` (${formatBytes(Math.round(bytes / s))}/s)` : '';
  return `${formatBytes(bytes)} in ${s.toFixed(2)} s${rate}`;
}

const QTYPE: Record<number, string> = { 1: 'A', 2: 'NS', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 255: 'ANY' };

/**
 * What the event says, without host and time. Every kind is decided here (events/kinds.ts: a new
 * kind does not compile until it is); kinds this version does not know (older rows) get the
 * plain form, `family  what reason`.
 */
export function describeEvent(e: Pick<StoreEvent, 'kind' | 'reason' | 'data'>): { proto: string; text: string } {
  const d: Data = e.data ?? {};
  const reason = e.reason ?? '';
  const [proto = e.kind, what = ''] = e.kind.split('.', 2);
  const plain = { proto, text: `${what}${reason ? ` ${reason}` : ''}` };
  if (!isEventKind(e.kind)) return plain;
  const kind = e.kind;
  switch (kind) {
    case 'dhcp.discover':
    case 'dhcp.request': {
      const answer = kind === 'dhcp.discover' ? 'OFFER' : 'ACK';
      const ok = reason.startsWith('offer') || reason.startsWith('ack');
      const file = str(d.file);
      const client = d.client === 'ipxe' ? 'iPXE' : num(d.arch) !== undefined ? archName(num(d.arch)!) : 'no PXE architecture: plain client';
      const boot = file ? `, boot ${file} (${client})` : ` (${client})`;
      // ProxyDHCP: the boot file only, no address (the site's DHCP server gives that).
      if (reason === 'proxy-offer' || reason === 'proxy-ack') return { proto: 'dhcp', text: `proxy ${answer}${boot}` };
      return { proto: 'dhcp', text: ok ? `${answer} ${str(d.ip) ?? '?'}${boot}` : `${what.toUpperCase()} not answered: ${reason}` };
    }
    case 'tftp.transfer': {
      const file = str(d.file) ?? '?';
      if (reason === 'complete' || d.outcome === 'complete') return { proto: 'tftp', text: `${file}  ${sizeAndSpeed(num(d.size), num(d.ms))}` };
      // Firmware often asks for the size first and aborts (error 8) once it knows it.
      if (d.outcome === 'option-refused' || /error 8/.test(reason)) return { proto: 'tftp', text: `${file}  size asked (${formatBytes(num(d.size) ?? 0)}), transfer aborted by the client` };
      return { proto: 'tftp', text: `${file}  ${String(d.outcome ?? reason)}: ${reason}` };
    }
    case 'http.file':
      return { proto: 'http', text: `${str(d.file) ?? '?'}  ${sizeAndSpeed(num(d.bytes), num(d.ms))}${reason === 'aborted' ? ' (aborted)' : ''}${d.status !== 200 ? ` status ${String(d.status)}` : ''}` };
    case 'http.kickstart':
      return { proto: 'http', text: `kickstart${d.profile ? ` (${String(d.profile)})` : ''} ${d.status === 200 ? formatBytes(num(d.bytes) ?? 0) : `refused ${String(d.status)}: ${reason}`}` };
    case 'http.ipxe':
      return { proto: 'http', text: `iPXE script (${String(d.mode ?? '?')})` };
    case 'install.done':
    case 'install.failed':
    case 'install.expired':
      return { proto: 'install', text: `${what}${reason ? `: ${reason}` : ''}` };
    case 'dns.query':
      return { proto: 'dns', text: `${QTYPE[num(d.type) ?? 0] ?? `type ${String(d.type)}`} ${str(d.name) ?? '?'} -> ${reason}` };
    case 'http.install-done':
    case 'http.install-failed':
      return { proto: 'http', text: `callback ${what}${reason ? ` refused: ${reason}` : ''}` };
    case 'boot.set':
      return { proto: 'boot', text: `entry -> ${String(d.mode)}${d.profile && d.mode === 'install' ? ` (${String(d.profile)})` : ''}, by ${reason}` };
    // What the trace shows as it is: the kind's second half and the reason.
    case 'dhcp.offer': case 'dhcp.decline': case 'dhcp.ack': case 'dhcp.nak': case 'dhcp.release': case 'dhcp.inform':
    case 'dhcp.bootp': case 'dhcp.invalid': case 'dhcp.malformed': case 'dhcp.dropped':
    case 'http.refused': case 'install.host-keys': case 'boot.removed': case 'host.created': case 'host.updated': case 'host.deleted':
    case 'p2v.job': case 'p2v.refused': case 'ha.transition': case 'ha.action': case 'ha.done': case 'ha.admission': case 'hypervisor.up': case 'hypervisor.down': case 'hypervisor.maintenance': case 'hypervisor.drain': case 'hypervisor.roll':
    case 'trace.unknown':
      return plain;
    default:
      return assertNever(kind);
  }
}

/** `vm10  +12.3s dhcp   ACK ...`, time relative to t0 (ms). */
export function formatEvent(e: Pick<StoreEvent, 'at' | 'kind' | 'reason' | 'data' | 'host' | 'mac'>, t0: number): string {
  const { proto, text } = describeEvent(e);
  const who = (e.host ?? e.mac ?? '?').padEnd(6);
  const t = `+${((e.at - t0) / 1000).toFixed(1)}s`.padEnd(7);
  return `${who} ${t} ${proto.padEnd(7)} ${text}`;
}
