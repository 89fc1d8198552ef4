#!/usr/bin/env bash
# Sets 3rc up on a Debian 12 machine: the Debian packages it needs, its npm dependencies, and the
# compiled JavaScript. Run as root. Idempotent: packages already there are not fetched again.
#
#   scripts/install.sh          what `npm start` needs
#   scripts/install.sh --test   plus the real clients and reference servers the tests drive
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[[ "${1:-}" == "--test" ]] && want_tests=1

die() { echo "install.sh: $*" >&2; exit 1; }

command -v node >/dev/null || die "Node.js 20 is required and not installed (Debian 12 ships 18: install Node.js 20 from nodejs.org or NodeSource first)"
major=$(node -p 'process.versions.node.split(".")[0]')
[[ "$major" -ge 20 ]] || die "Node.js 20 or newer is required, found $(node --version)"

# Build tools for the native SQLite binding (better-sqlite3 compiles when no prebuilt binary can be fetched).
packages=(python3 make g++)
if [[ $want_tests -eq 1 ]]; then
  packages+=(
    iproute2 ethtool procps curl     # network namespaces and veth for lab tests
    bind9-dnsutils dnsperf           # dig, dnsperf: DNS clients
    tftp-hpa atftp tftpd-hpa         # TFTP clients, and tftpd-hpa as the reference server
    isc-dhcp-client udhcpc isc-dhcp-relay kea-admin   # dhclient, udhcpc, dhcrelay, perfdhcp
    dnsmasq-base                     # reference DHCP/DNS/TFTP server
    isc-dhcp-server kea-dhcp4-server # dhcpd and kea-dhcp4: the servers 3rc import reads, run against it in test/import.test.ts
    openssh-server openssh-client    # a real sshd for the SSH runner and hypervisor drivers
    # The PXE lab (boot/fetch.sh, scripts/lab-image.sh): qemu with its iPXE ROMs, OVMF, and the
    # Debian packages the boot files and the lab's installer and disk image are built from.
    qemu-system-x86 qemu-utils ipxe-qemu ovmf pxelinux syslinux syslinux-common syslinux-efi
    debian-installer-12-netboot-amd64 grub-efi-amd64-bin mmdebstrap busybox-static
    # Modern firmware (issue 22): iPXE for UEFI HTTP Boot, the Secure Boot chain (Microsoft-signed
    # shim, Debian-signed GRUB), and the arm64 installer with its signed netboot GRUB.
    ipxe shim-signed grub-efi-amd64-signed debian-installer-12-netboot-arm64
    qemu-system-arm qemu-efi-aarch64 # the arm64 lab VMs: qemu-system-aarch64 and AAVMF (test/lab/arm64.test.ts)
    e2fsprogs dosfstools mtools fdisk cpio xz-utils zstd
    socat                            # the lab's power command for a "physical" qemu host, through its monitor socket
    ndisc6                           # rdisc6: sees 3rc's router advertisements (test/ra; the lab needs no radvd: 3rc answers)
    chromium                         # the dashboard's browser tests (playwright-core drives it)
    etcd-server etcd-client          # the redundant-3rc store
    ganglia-monitor                  # gmond, read by the Ganglia monitor
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients   # the lab's hypervisors (not libvirt-daemon-system: it pulls in systemd)
    wrk                              # HTTP load for bench/
    openipmi ipmitool openssl        # test/bmc/: ipmi_sim as a BMC, ipmitool (the IPMI driver's tool), openssl for the Redfish emulator's test CA
    cloud-init python3-yaml          # NoCloud (issue 27): cloud-init's own schema check and its YAML parser (PyYAML) read 3rc's rendered user-data
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) -eq 0 ]] || die "needs root to install: ${missing[*]}"
  # Packages such as tftpd-hpa start their daemon on install; the tests start their own, so
  # keep the package scripts from starting services while we install.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [[ $made_policy -eq 1 ]] && rm -f "$policy"
fi
# A tftpd-hpa, dhcpd or kea-dhcp4 started by an earlier install would hold port 69 or 67.
if [[ $want_tests -eq 1 ]]; then
  for daemon in in.tftpd:tftpd-hpa dhcpd:isc-dhcp-server kea-dhcp4:kea-dhcp4-server; do
    if pgrep -x "${daemon%%:*}" >/dev/null && [[ -x /etc/init.d/${daemon#*:} ]]; then
      /etc/init.d/"${daemon#*:}" stop >/dev/null 2>&1 || true
    fi
  done
fi

# The lab's boot files (Debian packages) and its installer and disk image (mmdebstrap, cached in
# var/cache/lab: only the first run is slow). They need only the Debian packages above, so they
# are built while npm installs and compiles (together ~1.5 min on 2 cores, instead of one after
# the other); their lines name boot/ or lab-image, and either side failing fails the install.
lab_pid=
if [[ $want_tests -eq 1 ]]; then
  # libvirtd loads its qemu driver only when this user exists; each lab hypervisor mounts its own
  # copy of these directories (lab-notes.md).
  getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
  getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
  mkdir -p /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
  { boot/fetch.sh && scripts/lab-image.sh; } &
  lab_pid=$!
fi

npm_ok=1
{ npm ci --no-audit --no-fund && npm run build; } || npm_ok=0
if [[ -n $lab_pid ]]; then
  wait "$lab_pid" || die "building the lab's boot files or image failed (output above)"
fi
[[ $npm_ok -eq 1 ]] || die "npm ci or the build failed (output above)"
