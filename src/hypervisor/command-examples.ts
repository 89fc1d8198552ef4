/**
 * Command driver settings for common hypervisors, as starting points for a config (and checked
 * by command-examples.test.ts against the tools' documented output). `{{vmid}}` comes from the
 * inventory host's `vars.vmid`; `{{vm}}` is the inventory host name, which must then be the VM's
 * name on the hypervisor.
 */
import type { CommandSpec } from '../lib/command-spec.js';

/** Proxmox VE: `qm`, VMs addressed by numeric id; `qm list` shows the name and status. */
export const QM: CommandSpec = {
  commands: {
    list: 'qm list',
    state: 'qm status {{vmid}}',
    start: 'qm start {{vmid}}',
    // `qm stop` kills the qemu process at once (a hard power off); `qm shutdown` asks the guest.
    stop: 'qm stop {{vmid}}',
    reset: 'qm reset {{vmid}}',
    shutdown: 'qm shutdown {{vmid}}',
  },
  listPattern: String.raw`^\s*\d+\s+(?<name>\S+)\s+(?<state>\S+)`,
  statePattern: String.raw`^status:\s*(?<state>\S+)`,
};

/**
 * VMware ESXi: `vim-cmd`, VMs addressed by their vmsvc id. getallvms has no state column, so
 * the list asks each VM's power state (the last line of power.getstate: "Powered on").
 */
export const VIM_CMD: CommandSpec = {
  commands: {
    list: `vim-cmd vmsvc/getallvms | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1, $2}' | while read -r id name; do echo "$name $(vim-cmd vmsvc/power.getstate "$id" | tail -n 1)"; done`,
    state: 'vim-cmd vmsvc/power.getstate {{vmid}}',
    start: 'vim-cmd vmsvc/power.on {{vmid}}',
    stop: 'vim-cmd vmsvc/power.off {{vmid}}',
    reset: 'vim-cmd vmsvc/power.reset {{vmid}}',
    shutdown: 'vim-cmd vmsvc/power.shutdown {{vmid}}',
  },
};

/**
 * Xen: `xl`, a VM is defined by /etc/xen/NAME.cfg and runs when `xl domid NAME` knows it (xl
 * forgets domains that are off, so the config file is what "defined" means).
 */
export const XL: CommandSpec = {
  commands: {
    list: `for f in /etc/xen/*.cfg; do [ -e "$f" ] || continue; n=$(basename "$f" .cfg); if xl domid "$n" >/dev/null 2>&1; then echo "$n running"; else echo "$n off"; fi; done`,
    state: `test -f /etc/xen/{{vm}}.cfg || { echo 'no such vm' >&2; exit 1; }; if xl domid {{vm}} >/dev/null 2>&1; then echo running; else echo off; fi`,
    start: 'xl create /etc/xen/{{vm}}.cfg',
    stop: 'xl destroy {{vm}}',
    reset: 'xl trigger {{vm}} reset',
    shutdown: 'xl shutdown {{vm}}',
  },
};

/**
 * VirtualBox: `VBoxManage`, VMs by name, run by the SSH user who owns them. `saved` is neither
 * running nor off here (it resumes where it stopped): such a VM is counted as running.
 */
export const VBOXMANAGE: CommandSpec = {
  commands: {
    list: `VBoxManage list vms | sed -n 's/^"\\(.*\\)" {.*}$/\\1/p' | while IFS= read -r n; do echo "$n $(VBoxManage showvminfo "$n" --machinereadable | sed -n 's/^VMState="\\(.*\\)"$/\\1/p')"; done`,
    state: 'VBoxManage showvminfo {{vm}} --machinereadable',
    start: 'VBoxManage startvm {{vm}} --type headless',
    stop: 'VBoxManage controlvm {{vm}} poweroff',
    reset: 'VBoxManage controlvm {{vm}} reset',
    shutdown: 'VBoxManage controlvm {{vm}} acpipowerbutton',
  },
  statePattern: String.raw`^VMState="(?<state>[^"]+)"`,
};
