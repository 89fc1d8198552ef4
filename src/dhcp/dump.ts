/**
 * A stable, human-readable text dump of a packet: the golden format of the captured-packet
 * tests, and what `3rc` logs at trace level. Pure.
 */
import { fieldsByCode, getField, messageTypeName, F } from './options.js';
import type { DhcpPacket } from './packet.js';

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return hex(v);
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => `${k}=${show(x)}`).join(' ');
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? `{${show(x)}}` : String(x))).join(' ');
  if (typeof v === 'object' && v !== null) return Object.entries(v).map(([k, x]) => `${k}=${show(x)}`).join(' ');
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

/** One line per header field and per option, options in packet order. */
export function dumpPacket(p: DhcpPacket): string {
  const lines = [
    `op ${p.op} htype ${p.htype} hlen ${p.hlen} hops ${p.hops}`,
    `xid 0x${p.xid.toString(16).padStart(8, '0')} secs ${p.secs} flags 0x${p.flags.toString(16).padStart(4, '0')}`,
    `ciaddr ${p.ciaddr} yiaddr ${p.yiaddr} siaddr ${p.siaddr} giaddr ${p.giaddr}`,
    `chaddr ${hex(p.chaddr)}`,
    `sname ${JSON.stringify(p.sname)}`,
    `file ${JSON.stringify(p.file)}`,
  ];
  for (const [code, raw] of p.options.entries()) {
    const f = fieldsByCode.get(code);
    if (code === F.messageType.code) lines.push(`option ${code} (${f!.name}): ${messageTypeName(getField(p.options, F.messageType))}`);
    else if (f) lines.push(`option ${code} (${f.name}): ${show(f.decode(raw))}`);
    else lines.push(`option ${code}: ${hex(raw)}`);
  }
  return lines.join('\n') + '\n';
}
