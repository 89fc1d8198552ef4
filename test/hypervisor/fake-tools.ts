/**
 * Fake hypervisor command-line tools for the SSH driver tests, as shell scripts. Each keeps its
 * VMs as files under $FAKE_HV_STATE/domains (content: the state), so two sshd instances with two
 * state directories are two hypervisors. Their output and messages copy the real tools: virsh
 * (libvirt >= 5.3 table layout, libvirt error texts) and Proxmox's qm.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VIRSH = String.raw`#!/bin/sh
# Fake virsh: virsh [-c URI] COMMAND [DOMAIN]
echo "LC_ALL=$LC_ALL virsh $*" >> "$FAKE_HV_STATE/calls"
d="$FAKE_HV_STATE/domains"
if [ ! -d "$d" ]; then
  echo "error: failed to connect to the hypervisor" >&2
  echo "error: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory" >&2
  exit 1
fi
uri=""
if [ "$1" = "-c" ]; then uri="$2"; shift 2; fi
sub="$1"; name="$2"
nodom() { echo "error: failed to get domain '$name'" >&2; exit 1; }
invalid() { echo "error: Failed to $1 domain '$name'" >&2; echo "error: Requested operation is not valid: $2" >&2; exit 1; }
case "$sub" in
  uri) echo "$uri" ;;
  list)
    printf ' %-4s %-12s %s\n' Id Name State
    echo '----------------------------'
    i=0
    for f in "$d"/*; do
      [ -e "$f" ] || continue
      i=$((i+1)); s=$(cat "$f"); id=-
      [ "$s" = running ] && id=$i
      printf ' %-4s %-12s %s\n' "$id" "$(basename "$f")" "$s"
    done
    echo ;;
  domstate) [ -f "$d/$name" ] || nodom; cat "$d/$name"; echo ;;
  start)
    [ -f "$d/$name" ] || nodom
    [ "$(cat "$d/$name")" = running ] && invalid start "domain is already active"
    echo running > "$d/$name"; echo "Domain '$name' started"; echo ;;
  destroy)
    [ -f "$d/$name" ] || nodom
    [ "$(cat "$d/$name")" = running ] || invalid destroy "domain is not running"
    echo "shut off" > "$d/$name"; echo "Domain '$name' destroyed"; echo ;;
  reset)
    [ -f "$d/$name" ] || nodom
    [ "$(cat "$d/$name")" = running ] || invalid reset "domain is not running"
    echo "Domain '$name' was reset"; echo ;;
  shutdown)
    [ -f "$d/$name" ] || nodom
    [ "$(cat "$d/$name")" = running ] || invalid shutdown "domain is not running"
    echo "shut off" > "$d/$name"; echo "Domain '$name' is being shutdown"; echo ;;
  *) echo "error: unknown command: '$sub'" >&2; exit 1 ;;
esac
`;

const QM = String.raw`#!/bin/sh
# Fake qm (Proxmox), addressing VMs by name: qm list | status|start|stop|reset NAME
echo "qm $*" >> "$FAKE_HV_STATE/calls"
d="$FAKE_HV_STATE/domains"
sub="$1"; name="$2"
state() { if [ "$(cat "$d/$name")" = running ]; then echo running; else echo stopped; fi; }
if [ "$sub" != list ] && [ ! -f "$d/$name" ]; then
  echo "Configuration file 'nodes/pve/qemu-server/$name.conf' does not exist" >&2; exit 2
fi
case "$sub" in
  list)
    printf '%10s %-20s %-10s %-10s\n' VMID NAME STATUS 'MEM(MB)'
    i=100
    for f in "$d"/*; do
      [ -e "$f" ] || continue
      name=$(basename "$f"); i=$((i+1))
      printf '%10s %-20s %-10s %-10s\n' "$i" "$name" "$(state)" 2048
    done ;;
  status) echo "status: $(state)" ;;
  start) [ "$(state)" = running ] && { echo "VM $name already running" >&2; exit 255; }; echo running > "$d/$name" ;;
  stop) [ "$(state)" = running ] || { echo "VM $name not running" >&2; exit 255; }; echo "shut off" > "$d/$name" ;;
  reset) [ "$(state)" = running ] || { echo "VM $name not running" >&2; exit 255; } ;;
  *) echo "400 unknown command 'qm $sub'" >&2; exit 255 ;;
esac
`;

/** Writes virsh and qm into dir/bin; returns the bin directory (to put first on PATH). */
export function writeFakeTools(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, text] of [['virsh', VIRSH], ['qm', QM]] as const) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

/** A fake hypervisor's state directory with these VMs defined and off. */
export function makeHypervisorState(dir: string, vms: string[]): string {
  mkdirSync(join(dir, 'domains'), { recursive: true });
  for (const vm of vms) writeFileSync(join(dir, 'domains', vm), 'shut off\n');
  return dir;
}
