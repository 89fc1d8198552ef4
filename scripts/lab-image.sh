#!/usr/bin/env bash
# Builds the PXE lab's disk image and the small installer that writes it, from Debian packages
# only (mmdebstrap from the Debian mirror; nothing else is downloaded, nothing is committed).
#
#   scripts/lab-image.sh            build what is missing or out of date, reuse the cache
#   scripts/lab-image.sh --force    rebuild everything, the bootstrap included
#
# Run as root (mmdebstrap and chroot). Output, under boot/lab/ (git-ignored):
#   installer/vmlinuz, installer/initrd.gz   Debian's kernel + a busybox initramfs whose /init gets
#                                            an address by DHCP, fetches the per-host script named
#                                            by 3rc.image=URL on the kernel command line, runs it
#                                            (with Debian's kexec, to boot a written system at once)
#   images/debian12.img.gz (+ .sha256)       a raw, BIOS-bootable (MBR + syslinux) minimal Debian 12
#   images/debian12.img.zst (+ .sha256)      the same, compressed with zstd
#
# The image is built without loop devices or mounts of it: the root filesystem is made from a
# directory with `mkfs.ext4 -d`, the boot partition is a FAT file filled with mtools and made
# bootable with syslinux's mtools installer, and both are copied into a sparse disk file whose
# MBR comes from syslinux's mbr.bin. Unused blocks are never written, so free space is zeros.
# (mmdebstrap itself mounts /proc in its target while it installs, and so does the chroot
# step that rebuilds the image's initramfs; that is all.)
#
# Cache: ${THREERC_LAB_CACHE:-var/cache/lab} (relative to the checkout): the bootstrapped tree
# (and its log), the busybox-static package. Layout of the disk (kickstarts/debian12-image.sh.hbs
# relies on it): partition 1 FAT16 "3RC-BOOT" (kernel, initrd, syslinux), partition 2 ext4
# "3rc-root" (the system; the installer grows it to the end of the disk).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
# The image's packages. minbase has apt, dpkg, e2fsprogs (resize2fs, used by the installer), mount.
# cloud-init: for the cloud-image profile (kickstarts/debian12-cloud-image.sh.hbs); disabled in the
# image (/etc/cloud/cloud-init.disabled) until that installer points it at 3rc's NoCloud seed.
PACKAGES=linux-image-amd64,systemd-sysv,udev,openssh-server,bind9-dnsutils,wget,iproute2,kmod,zstd,cloud-init
# Modules the installer loads (dependencies are added from modules.dep; built-ins are skipped).
INSTALLER_MODULES=(virtio_pci virtio_net virtio_blk virtio_scsi e1000 af_packet sd_mod ata_piix ahci ext4 crc32c_generic)
# Modules the image's own initramfs carries (MODULES=list): enough to find and mount its root,
# and virtio_net, so that the NIC is there when networkd starts (udev's coldplug loads it ~5 s later).
IMAGE_INITRD_MODULES=(virtio_pci virtio_blk virtio_scsi sd_mod ata_piix ahci ext4 crc32c_generic virtio_net)
# Module trees removed from the image: a lab VM needs no sound, graphics, wireless, media,
# InfiniBand, USB, exotic filesystems or storage HBAs. Paths under lib/modules/KVER/kernel/.
STRIP_MODULES=(sound drivers/gpu drivers/media drivers/net/wireless drivers/infiniband drivers/staging
  drivers/iio drivers/isdn drivers/bluetooth drivers/nfc drivers/net/can drivers/net/ieee802154
  drivers/usb drivers/net/usb drivers/thunderbolt drivers/firewire drivers/mtd drivers/w1 drivers/video
  drivers/misc drivers/input/touchscreen drivers/input/joystick drivers/input/tablet drivers/input/misc
  drivers/hwmon drivers/comedi drivers/mmc drivers/memstick drivers/leds drivers/platform/chrome
  drivers/power drivers/media drivers/hid/intel-ish-hid drivers/target drivers/mfd drivers/pinctrl
  drivers/gpio drivers/i2c drivers/spi drivers/regulator drivers/iio drivers/hte drivers/fpga
  net/wireless net/mac80211 net/bluetooth net/nfc net/ieee802154 net/can net/ceph net/rxrpc net/tipc
  fs/btrfs fs/xfs fs/ocfs2 fs/gfs2 fs/smb fs/ceph fs/f2fs fs/afs fs/ubifs fs/dlm fs/nilfs2 fs/jfs
  fs/reiserfs fs/orangefs fs/coda fs/ntfs3 fs/hfs fs/hfsplus fs/ufs fs/omfs fs/minix fs/qnx4 fs/qnx6
  fs/befs fs/bfs fs/efs fs/sysv fs/freevxfs fs/hpfs fs/adfs fs/affs fs/jffs2 fs/romfs fs/erofs)
# Of Ethernet drivers, only these vendors stay (qemu's e1000/e1000e/igb, and common servers'),
# and of SCSI only the core, virtio_scsi and the disk/cdrom drivers (no HBA subfolders).
KEEP_ETHERNET=(intel realtek broadcom amazon google)
BOOT_MB=32          # FAT boot partition (kernel 8 MB, initrd 6 MB)
ROOT_SLACK_MB=48    # free space left in the image's root filesystem (the installer grows it to the disk)

CACHE=${THREERC_LAB_CACHE:-var/cache/lab}
[[ $CACHE == /* ]] || CACHE=$ROOT/$CACHE
OUT=$ROOT/boot/lab
FORCE=0

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }
for a in "$@"; do
  case $a in
    --force) FORCE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "lab-image.sh: unknown argument $a" >&2; usage >&2; exit 2 ;;
  esac
done

say() { printf 'lab-image: %s\n' "$*"; }
die() { printf 'lab-image: ERROR: %s\n' "$*" >&2; exit 1; }
T_ALL=$(date +%s)
# step NAME COMMAND...: runs a build step, printing what it does and how long it took.
step() {
  local name=$1 t0 t1
  shift
  say "$name ..."
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  say "$(awk -v n="$name" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s: done in %.1f s", n, b - a }')"
}
human() { numfmt --to=iec --suffix=B "$(stat -c %s "$1")"; }

[[ $(id -u) == 0 ]] || die "run as root (mmdebstrap and chroot need it)"

# --- host tools (Debian packages) -------------------------------------------------------------
need_tools() {
  local -A pkg_of=([mmdebstrap]=mmdebstrap [mkfs.ext4]=e2fsprogs [mkfs.vfat]=dosfstools [mcopy]=mtools
    [syslinux]=syslinux [sfdisk]=fdisk [cpio]=cpio [gzip]=gzip [xz]=xz-utils [zstd]=zstd [numfmt]=coreutils)
  local missing=() t
  for t in "${!pkg_of[@]}"; do command -v "$t" >/dev/null || missing+=("${pkg_of[$t]}"); done
  [[ -f /usr/lib/syslinux/mbr/mbr.bin ]] || missing+=(syslinux-common)
  if ((${#missing[@]})); then
    say "installing host packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
      die "could not install ${missing[*]} (apt-get install ${missing[*]})"
  fi
  # mkfs.ext4 -d (populate from a directory) needs e2fsprogs 1.43 or newer; Debian 12 has 1.47.
  [[ $(mkfs.ext4 2>&1 || true) == *"[-d "* ]] || die "mkfs.ext4 does not support -d (needs e2fsprogs >= 1.43)"
}

# --- 1. mmdebstrap (cached) -------------------------------------------------------------------
ROOTFS=$CACHE/rootfs
STAMP="mmdebstrap $SUITE $MIRROR minbase $PACKAGES"
# unmount_under DIR: unmounts whatever an interrupted mmdebstrap left mounted below DIR (its
# /proc, /sys), so that removing DIR can never reach into the host's filesystems.
unmount_under() {
  local dir m
  dir=$(realpath -m "$1")
  for m in $(awk -v d="$dir/" 'index($2 "/", d) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" || die "cannot unmount $m"
  done
}
# remove_tree DIR: rm -rf, never across a mount point.
remove_tree() {
  [[ -e $1 ]] || return 0
  unmount_under "$1"
  rm -rf --one-file-system "$1"
}
bootstrap_rootfs() {
  remove_tree "$ROOTFS.tmp"
  trap 'unmount_under "$ROOTFS.tmp"' EXIT
  # mmdebstrap, not debootstrap: it installs through apt in one dpkg run, and dpkg skips its fsyncs
  # (force-unsafe-io: the tree is thrown away if the build fails), 55 s against debootstrap's 190 s
  # here. The merged-usr hook gives the layout bookworm's debootstrap makes (usr-is-merged, not
  # usrmerge, which would pull in perl). MODULES=list before the kernel is installed: its postinst
  # then builds a small initramfs (the default, MODULES=most, fails in a chroot with MODULES=dep and
  # is 30 MB otherwise); customize_image_root builds the real one.
  mmdebstrap --mode=root --variant=minbase --include="$PACKAGES" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --dpkgopt=force-unsafe-io \
    --setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" && echo MODULES=list >"$1/etc/initramfs-tools/conf.d/3rc"' \
    "$SUITE" "$ROOTFS.tmp" "$MIRROR" >"$CACHE/bootstrap.log" 2>&1 ||
    die "mmdebstrap failed; the last lines of $CACHE/bootstrap.log:
$(tail -n 15 "$CACHE/bootstrap.log")"
  unmount_under "$ROOTFS.tmp"
  trap - EXIT
  remove_tree "$ROOTFS"
  mv "$ROOTFS.tmp" "$ROOTFS"
  printf '%s\n' "$STAMP" >"$ROOTFS.stamp"
}

kver() {
  local k
  k=$(ls "$ROOTFS/lib/modules" | sort -V | tail -n 1)
  [[ -n $k && -f $ROOTFS/boot/vmlinuz-$k ]] || die "no kernel in $ROOTFS (linux-image-amd64 missing?)"
  echo "$k"
}

# module_closure KVER MODROOT NAME...: prints the module files (relative to MODROOT/lib/modules/KVER)
# for NAMEs and everything they depend on, dependencies first; built-in modules print nothing.
module_closure() {
  local kver=$1 base=$2/lib/modules/$1
  shift 2
  awk -v want="$*" '
    FNR == 1 { file++ }
    file == 1 { b = $0; sub(/.*\//, "", b); sub(/\.ko.*/, "", b); gsub(/-/, "_", b); builtin[b] = 1; next }
    {
      path = $1; sub(/:$/, "", path)
      n = path; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n)
      file_of[n] = path; deps[n] = ""
      for (i = 2; i <= NF; i++) deps[n] = deps[n] " " $i
    }
    function visit(n,   d, k, i, dn) {
      if (n in seen) return
      seen[n] = 1
      k = split(deps[n], d, " ")
      # modules.dep lists indirect dependencies too, in load order reversed.
      for (i = k; i >= 1; i--) { dn = d[i]; sub(/.*\//, "", dn); sub(/\.ko.*/, "", dn); gsub(/-/, "_", dn); visit(dn) }
      print file_of[n]
    }
    END {
      m = split(want, w, " ")
      for (i = 1; i <= m; i++) {
        n = w[i]; gsub(/-/, "_", n)
        if (n in builtin) continue
        if (!(n in file_of)) { print "missing module " n > "/dev/stderr"; exit 1 }
        visit(n)
      }
    }' "$base/modules.builtin" "$base/modules.dep"
}

# --- 2. installer: kernel + busybox initramfs -------------------------------------------------
# cached_deb PKG: the newest PKG_*.deb in the cache, downloaded (the host's apt sources) if missing.
cached_deb() {
  local deb
  deb=$(ls "$CACHE/$1"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -z $deb ]]; then
    (cd "$CACHE" && apt-get download -q "$1" >/dev/null 2>&1) || die "apt-get download $1 failed"
    deb=$(ls "$CACHE/$1"_*.deb | sort -V | tail -n 1)
  fi
  echo "$deb"
}

# add_binary DIR FILE [LIBDIR]: a dynamically linked program of Debian's (FILE), and the libraries
# it links (from LIBDIR, else the bootstrapped tree), into the initramfs DIR's /sbin.
add_binary() {
  local work=$1 bin=$2 libs=$ROOTFS/lib/x86_64-linux-gnu lib
  [[ -n ${3:-} ]] && libs=$3:$libs
  install -D -m 0755 "$bin" "$work/sbin/$(basename "$bin")"
  mkdir -p "$work/lib64" "$work/lib/x86_64-linux-gnu"
  cp -L "$ROOTFS/lib64/ld-linux-x86-64.so.2" "$work/lib64/"
  "$ROOTFS/lib64/ld-linux-x86-64.so.2" --library-path "$libs" --list "$bin" >"$CACHE/ldd.out" 2>&1 ||
    die "$bin: $(grep -m 3 'not found\|error' "$CACHE/ldd.out" | tr '\n' ' ')"
  for lib in $(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' "$CACHE/ldd.out"); do
    cp -L "$lib" "$work/lib/x86_64-linux-gnu/"
  done
}

# Debian's kexec and the libraries it links that minbase lacks (its Xen support: libxenmisc and
# what that links). The cloud-image install boots the system it wrote with it: a reboot would
# network-boot into the installer again, since the host installs until its own cloud-init calls
# install-done.
KEXEC_DEBS=(kexec-tools libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1
  libxengnttab1 libxenhypfs1 libxenstore4 libxentoollog1 libxentoolcore1 libyajl2)
# add_kexec DIR: kexec into the initramfs DIR.
add_kexec() {
  local x=$CACHE/kexec-tools pkg
  rm -rf "$x"
  for pkg in "${KEXEC_DEBS[@]}"; do dpkg-deb -x "$(cached_deb "$pkg")" "$x"; done
  add_binary "$1" "$x/sbin/kexec" "$x/usr/lib/x86_64-linux-gnu:$x/lib/x86_64-linux-gnu"
}

build_installer() {
  local kver work bb
  kver=$(kver)
  work=$CACHE/installer-initrd
  rm -rf "$work"
  mkdir -p "$work"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,mnt,run,root,lib/modules/"$kver"}
  # busybox-static from the Debian archive (apt-get download: the host's apt sources), cached.
  bb=$(cached_deb busybox-static)
  rm -rf "$CACHE/busybox-static"
  dpkg-deb -x "$bb" "$CACHE/busybox-static"
  cp "$CACHE/busybox-static/bin/busybox" "$work/bin/busybox"
  [[ -x $work/bin/busybox ]] || die "$bb holds no bin/busybox"
  ln -s busybox "$work/bin/sh"
  add_kexec "$work"
  # Debian's zstd (the image's own): images/*.img.zst inflate several times faster than gzip.
  add_binary "$work" "$ROOTFS/usr/bin/zstd"

  # Kernel modules, with their dependencies, uncompressed (busybox insmod reads plain .ko files).
  local files f src dst order=()
  files=$(module_closure "$kver" "$ROOTFS" "${INSTALLER_MODULES[@]}") || die "resolving installer modules failed"
  for f in $files; do
    src=$ROOTFS/lib/modules/$kver/$f
    dst=$work/lib/modules/$kver/${f%.xz}
    dst=${dst%.zst}
    dst=${dst%.gz}
    mkdir -p "$(dirname "$dst")"
    case $f in
      *.ko.xz) xz -dc "$src" >"$dst" ;;
      *.ko.zst) zstd -qdc "$src" >"$dst" ;;
      *.ko.gz) gzip -dc "$src" >"$dst" ;;
      *) cp "$src" "$dst" ;;
    esac
    order+=("/lib/modules/$kver/${dst#"$work/lib/modules/$kver/"}")
  done
  printf '%s\n' "${order[@]}" >"$work/etc/modules.order"
  say "installer modules (${#order[@]}): $(printf '%s ' "${order[@]##*/}")"

  install -m 0755 /dev/stdin "$work/init" <<'INIT'
#!/bin/sh
# 3rc installer (built by scripts/lab-image.sh): DHCP, fetch the per-host install script named by
# 3rc.image=URL on the kernel command line, run it. Never hangs silently: any failure is printed
# on the console and the machine reboots after a pause (3rc.pause=SECONDS, default 30).
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
exec </dev/console >/dev/console 2>&1
echo 3 >/proc/sys/kernel/printk   # keep kernel chatter from interleaving with our steps
echo 10 >/proc/sys/kernel/panic   # should this script ever die, the kernel panics: reboot, not hang

up() { cut -d' ' -f1 /proc/uptime; }
log() { echo "3rc-installer: [$(up)] $*"; }
arg() { for w in $(cat /proc/cmdline); do case $w in "$1="*) echo "${w#*=}" ;; esac; done; }
pause=$(arg 3rc.pause); pause=${pause:-30}
fail() {
  log "FAILED: $*"
  log "rebooting in $pause s"
  sleep "$pause"
  sync
  reboot -f
  sleep 5; echo b >/proc/sysrq-trigger
}
trap 'fail "killed"' TERM INT

log "started, kernel $(uname -r), cmdline: $(sed 's/token=[^ ]*/token=.../g' /proc/cmdline)"
n=0
while read -r m; do
  insmod "$m" 2>/tmp/insmod.err || grep -q 'File exists' /tmp/insmod.err || log "insmod ${m##*/}: $(cat /tmp/insmod.err)"
  n=$((n + 1))
done </etc/modules.order
log "loaded $n modules"

# The NIC: BOOTIF=01-aa-bb-cc-dd-ee-ff (pxelinux IPAPPEND 2) names it, else the first with a MAC.
want=$(arg BOOTIF | sed -n 's/^01-//p' | tr 'A-F-' 'a-f:')
ifc=
i=0
while [ -z "$ifc" ] && [ $i -lt 100 ]; do
  for d in /sys/class/net/*; do
    n=${d##*/}
    [ "$n" = lo ] && continue
    mac=$(cat "$d/address" 2>/dev/null)
    case $mac in '' | 00:00:00:00:00:00) continue ;; esac
    if [ -n "$want" ]; then [ "$mac" = "$want" ] && { ifc=$n; break; }
    else ifc=$n; break
    fi
  done
  [ -n "$ifc" ] || { sleep 0.1; i=$((i + 1)); }
done
[ -n "$ifc" ] || fail "no network interface${want:+ with MAC $want} (interfaces: $(ls /sys/class/net | tr '\n' ' '))"
log "network interface $ifc ($(cat /sys/class/net/$ifc/address))"
ip link set lo up
ip link set "$ifc" up
t0=$(up)
udhcpc -i "$ifc" -f -q -n -t 10 -T 3 -s /etc/udhcpc.script -V 3rc-installer -x hostname:3rc-installer ||
  fail "no DHCP answer on $ifc"
log "DHCP on $ifc: $(ip -4 -o addr show dev "$ifc" | awk '{print $4}') in $(awk -v a="$t0" -v b="$(up)" 'BEGIN{printf "%.1f", b - a}') s"

url=$(arg 3rc.image)
[ -n "$url" ] || fail "no 3rc.image=URL on the kernel command line"
log "fetching the install script ${url%%\?*}"
ok=
for try in 1 2 3 4 5; do
  if timeout 60 wget -q -O /tmp/install.sh "$url" 2>/tmp/wget.err; then ok=1; break; fi
  log "fetch $try failed ($(tr '\n' ' ' </tmp/wget.err)); retrying in 3 s"
  sleep 3
done
[ -n "$ok" ] || fail "cannot fetch ${url%%\?*} (is the host flipped to install in 3rc?)"
log "running the install script ($(wc -c </tmp/install.sh) bytes)"
sh /tmp/install.sh || fail "the install script exited with status $?"
log "the install script returned without rebooting; rebooting"
sync
reboot -f
INIT

  install -m 0755 /dev/stdin "$work/etc/udhcpc.script" <<'UDHCPC'
#!/bin/sh
# udhcpc event script of the 3rc installer: address, default route, resolv.conf.
case $1 in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound | renew)
    ip -4 addr flush dev "$interface"
    if [ -n "$mask" ]; then ip addr add "$ip/$mask" ${broadcast:+broadcast "$broadcast"} dev "$interface"
    else ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}"
    fi
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    : >/etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
    echo "3rc-installer: lease $ip/${mask:-24} router ${router:-none} dns ${dns:-none} server ${serverid:-?}"
    ;;
esac
exit 0
UDHCPC
  echo 'root:x:0:0:root:/root:/bin/sh' >"$work/etc/passwd"
  echo 'root:x:0:' >"$work/etc/group"

  mkdir -p "$OUT/installer"
  cp "$ROOTFS/boot/vmlinuz-$kver" "$OUT/installer/vmlinuz.tmp"
  (cd "$work" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9n >"$OUT/installer/initrd.gz.tmp"
  mv "$OUT/installer/vmlinuz.tmp" "$OUT/installer/vmlinuz"
  mv "$OUT/installer/initrd.gz.tmp" "$OUT/installer/initrd.gz"
  say "installer: vmlinuz $(human "$OUT/installer/vmlinuz") (kernel $kver), initrd.gz $(human "$OUT/installer/initrd.gz")"
}

# --- 3. the disk image ------------------------------------------------------------------------
IMGROOT=$CACHE/image-root
customize_image_root() {
  local kver r=$IMGROOT
  kver=$(kver)
  remove_tree "$r"
  cp -a "$ROOTFS" "$r"

  # Documentation, man pages, locales, apt caches; keep it so for packages installed later.
  rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/lintian \
    "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/*_* "$r"/var/log/*.log \
    "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old "$r"/etc/dpkg/dpkg.cfg.d/99mmdebstrap
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
  cat >"$r/etc/dpkg/dpkg.cfg.d/01-3rc-nodoc" <<'EOF'
# 3rc lab image: no documentation, man pages or translations (scripts/lab-image.sh)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF

  # apt: the release, its updates and security (mmdebstrap writes only the release).
  cat >"$r/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF

  # Kernel modules a lab VM never loads.
  local d k=$r/lib/modules/$kver/kernel
  for d in "${STRIP_MODULES[@]}"; do rm -rf "${k:?}/$d"; done
  for d in "$k"/drivers/net/ethernet/*/; do
    [[ " ${KEEP_ETHERNET[*]} " == *" $(basename "$d") "* ]] || rm -rf "$d"
  done
  find "$k/drivers/scsi" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  chroot "$r" depmod -a "$kver"

  # Identity: none baked in. Each install writes its own host keys, machine-id and hostname.
  rm -f "$r"/etc/ssh/ssh_host_* "$r/var/lib/dbus/machine-id" "$r/var/lib/systemd/random-seed"
  : >"$r/etc/machine-id"
  echo debian12 >"$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
  : >"$r/etc/resolv.conf"
  # Root: no password (locked), SSH by key only.
  chroot "$r" usermod -p '*' root
  cat >"$r/etc/ssh/sshd_config.d/3rc.conf" <<'EOF'
# 3rc lab image: root by key only (the installer writes /root/.ssh/authorized_keys).
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
  # If the image was written without the 3rc installer, make host keys at first boot.
  cat >"$r/etc/systemd/system/3rc-ssh-hostkeys.service" <<'EOF'
[Unit]
Description=3rc: generate SSH host keys when the image has none
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key
# cloud-init, when the cloud-image installer enabled it, makes them (its ssh module): never both.
After=cloud-init.service
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF
  ln -sf /etc/systemd/system/3rc-ssh-hostkeys.service "$r/etc/systemd/system/multi-user.target.wants/3rc-ssh-hostkeys.service"

  # cloud-init: off (its systemd generator leaves it out of the boot, nothing runs) until the
  # cloud-image installer removes cloud-init.disabled and writes its datasource pointer to 3rc's
  # NoCloud seed (cloud.cfg.d/90-3rc.cfg). Then: networkd writes the network (neither ifupdown nor
  # netplan is in the image), no locale generation (minutes of TCG for nothing), and its network
  # stage waits for a configured link (the seed is fetched over it; wait-online is otherwise off).
  : >"$r/etc/cloud/cloud-init.disabled"
  cat >"$r/etc/cloud/cloud.cfg.d/10-3rc-lab.cfg" <<'EOF'
# 3rc lab image (scripts/lab-image.sh)
system_info:
  network:
    renderers: [networkd]
locale: false
EOF
  mkdir -p "$r/etc/systemd/system/cloud-init.service.d" "$r/etc/systemd/system/systemd-networkd-wait-online.service.d"
  cat >"$r/etc/systemd/system/cloud-init.service.d/3rc.conf" <<'EOF'
# 3rc lab image: the NoCloud seed is fetched over the network; wait for a configured link first.
[Unit]
Wants=systemd-networkd-wait-online.service
After=systemd-networkd-wait-online.service
EOF
  cat >"$r/etc/systemd/system/systemd-networkd-wait-online.service.d/3rc.conf" <<'EOF'
# 3rc lab image: one configured link is enough.
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=90
EOF

  # Network: DHCP on the Ethernet NIC(s), whatever their names, with systemd-networkd.
  cat >"$r/etc/systemd/network/50-3rc-dhcp.network" <<'EOF'
# 3rc lab image: every Ethernet NIC (en*, eth*) gets its address by DHCP.
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no

[DHCPv4]
UseDomains=yes
EOF
  chroot "$r" systemctl enable -q systemd-networkd.service
  chroot "$r" systemctl disable -q systemd-networkd-wait-online.service 2>/dev/null || true
  # Consoles: the serial getty follows console=ttyS0 on the kernel command line.
  chroot "$r" systemctl mask -q getty-static.service 2>/dev/null || true
  # Boot time under TCG, where every HA recovery is a boot: no timers or scrubs a lab VM never
  # needs, and no drivers for devices qemu gives it that nothing uses (the floppy probe, kvm, cpufreq).
  chroot "$r" systemctl mask -q apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
    e2scrub_all.timer e2scrub_reap.service fstrim.timer 2>/dev/null || true
  cat >"$r/etc/modprobe.d/3rc-lab.conf" <<'EOF'
# 3rc lab image (scripts/lab-image.sh): a qemu VM's devices the lab never uses; each costs boot time.
blacklist floppy
blacklist kvm
blacklist kvm_amd
blacklist kvm_intel
blacklist powernow_k8
blacklist pcspkr
EOF

  cat >"$r/etc/fstab" <<'EOF'
# 3rc lab image (scripts/lab-image.sh)
LABEL=3rc-root  /  ext4  errors=remount-ro  0  1
EOF
  # The image's initramfs: only what finds and mounts the root (the default, MODULES=most, is 30 MB).
  printf '%s\n' "${IMAGE_INITRD_MODULES[@]}" >"$r/etc/initramfs-tools/modules"
  printf 'MODULES=list\nCOMPRESS=zstd\n' >"$r/etc/initramfs-tools/conf.d/3rc"
  rm -f "$r/boot/initrd.img-$kver"
  chroot "$r" update-initramfs -c -k "$kver" >"$CACHE/update-initramfs.log" 2>&1 ||
    die "update-initramfs failed: $(tail -n 10 "$CACHE/update-initramfs.log")"
  rm -rf "$r/var/lib/initramfs-tools"/*.old* "$r/var/tmp"/* "$r/tmp"/*
  say "image root: $(du -sh --apparent-size "$r" | cut -f1), modules $(du -sh "$r/lib/modules" | cut -f1), initrd $(human "$r/boot/initrd.img-$kver")"
}

make_disk() {
  local kver r=$IMGROOT img=$CACHE/debian12.img boot=$CACHE/boot.fat rootimg=$CACHE/root.ext4
  kver=$(kver)
  rm -f "$img" "$boot" "$rootimg"

  # Partition 2: ext4 from the directory (no loop device, no mount), as small as it fits plus
  # ROOT_SLACK_MB: every byte of the raw image, zeros included, goes through the installer's
  # gunzip (the slowest part of an install under TCG), and the installer grows it to the disk.
  # (resize2fs -M does not help: its estimate of the minimum is above what mkfs -d needs.)
  local used_mb root_mb try
  used_mb=$(du -s --block-size=1M "$r" | cut -f1)
  for try in 8 15 25 40 70; do
    root_mb=$((used_mb + used_mb * try / 100 + 32 + ROOT_SLACK_MB))
    rm -f "$rootimg"
    truncate -s "${root_mb}M" "$rootimg"
    # 64-bit, metadata_csum: Debian 12 defaults; resize_inode lets the installer grow it online.
    if mkfs.ext4 -q -F -T default -b 4096 -i 8192 -L 3rc-root -d "$r" -m 1 "$rootimg" >"$CACHE/mkfs.log" 2>&1; then
      break
    fi
    say "root filesystem: $root_mb MiB is too small for $used_mb MiB of files, trying larger"
    root_mb=
  done
  [[ -n $root_mb ]] || die "mkfs.ext4 -d failed: $(tail -n 5 "$CACHE/mkfs.log")"
  e2fsck -fn "$rootimg" >"$CACHE/e2fsck.log" 2>&1 || die "e2fsck finds errors in the new root filesystem: $(tail -n 5 "$CACHE/e2fsck.log")"
  say "root filesystem: $root_mb MiB, $(dumpe2fs -h "$rootimg" 2>/dev/null | awk -F: '/^Free blocks/ { gsub(/ /, "", $2); printf "%d", $2 * 4 / 1024 }') MiB free"

  # Partition 1: FAT with the kernel, initrd and syslinux (mtools: no mount).
  truncate -s "${BOOT_MB}M" "$boot"
  mkfs.vfat -F 16 -n 3RC-BOOT "$boot" >/dev/null
  cat >"$CACHE/syslinux.cfg" <<'EOF'
# 3rc lab image (scripts/lab-image.sh): boot Debian at once, console on the serial port too.
SERIAL 0 115200
DEFAULT debian
PROMPT 0
TIMEOUT 0
LABEL debian
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND root=LABEL=3rc-root ro console=tty0 console=ttyS0,115200n8
EOF
  MTOOLS_SKIP_CHECK=1 mcopy -o -i "$boot" "$r/boot/vmlinuz-$kver" ::/vmlinuz
  MTOOLS_SKIP_CHECK=1 mcopy -o -i "$boot" "$r/boot/initrd.img-$kver" ::/initrd.img
  MTOOLS_SKIP_CHECK=1 mcopy -o -i "$boot" "$CACHE/syslinux.cfg" ::/syslinux.cfg
  syslinux --install "$boot" || die "syslinux --install failed"

  # The disk: MBR (syslinux mbr.bin), partition 1 at 1 MiB, active; partition 2 right after.
  local boot_start=2048 boot_sectors=$((BOOT_MB * 2048)) root_start root_sectors total
  root_start=$((boot_start + boot_sectors))
  root_sectors=$((root_mb * 2048))
  total=$(((root_start + root_sectors) * 512))
  truncate -s "$total" "$img"
  sfdisk --quiet --no-reread --no-tell-kernel "$img" <<EOF
label: dos
label-id: 0x3c3c3c3c
start=$boot_start, size=$boot_sectors, type=6, bootable
start=$root_start, size=$root_sectors, type=83
EOF
  dd if=/usr/lib/syslinux/mbr/mbr.bin of="$img" bs=440 count=1 conv=notrunc status=none
  dd if="$boot" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
  dd if="$rootimg" of="$img" bs=1M seek=$((root_start / 2048)) conv=notrunc,sparse status=none
  rm -f "$boot" "$rootimg"
  say "disk: $(human "$img") raw, $(du -sh "$img" | cut -f1) allocated (boot ${BOOT_MB} MiB, root ${root_mb} MiB)"
}

# The image twice: gzip (the image profile's) and zstd (the cloud-image profile's, which the
# installer inflates several times faster under TCG); the installer picks by the file's suffix.
compress_disk() {
  local img=$CACHE/debian12.img f z
  mkdir -p "$OUT/images"
  f=$OUT/images/debian12.img
  if command -v pigz >/dev/null; then pigz -6n <"$img" >"$f.gz.tmp"; else gzip -6n <"$img" >"$f.gz.tmp"; fi
  zstd -q -T0 -12 <"$img" >"$f.zst.tmp"
  for z in gz zst; do
    mv "$f.$z.tmp" "$f.$z"
    (cd "$OUT/images" && sha256sum "debian12.img.$z" >"debian12.img.$z.sha256.tmp" && mv "debian12.img.$z.sha256.tmp" "debian12.img.$z.sha256")
    say "image: $f.$z $(human "$f.$z") (sha256 $(cut -c1-16 "$f.$z.sha256")...)"
  done
  rm -f "$img"
}

# --- main -------------------------------------------------------------------------------------
# (One function, called on the last line: bash has read all of it before it runs, so editing
# this file during a build cannot change what the build does.)
main() {
  step "host tools" need_tools
  mkdir -p "$CACHE"
  if ((FORCE)) || [[ ! -f $ROOTFS.stamp || $(cat "$ROOTFS.stamp") != "$STAMP" || ! -d $ROOTFS ]]; then
    step "mmdebstrap $SUITE ($PACKAGES) from $MIRROR" bootstrap_rootfs
  else
    say "mmdebstrap: reusing $ROOTFS (--force rebuilds)"
  fi

  # An output is rebuilt when missing, or when what makes it changed: the bootstrapped tree, or
  # the code and settings of its steps (a hash of the bash functions and variables, kept in the cache).
  key_of() { { stat -c %Y "$ROOTFS.stamp"; cat "$ROOTFS.stamp"; declare -f "$@"; declare -p INSTALLER_MODULES KEXEC_DEBS IMAGE_INITRD_MODULES STRIP_MODULES KEEP_ETHERNET BOOT_MB ROOT_SLACK_MB; } | sha256sum | cut -d' ' -f1; }
  INSTALLER_KEY=$(key_of build_installer module_closure cached_deb add_binary add_kexec)
  IMAGE_KEY=$(key_of customize_image_root make_disk compress_disk)
  stale() {
    local key=$1 stamp=$2 f
    shift 2
    ((FORCE)) && return 0
    [[ -f $stamp && $(cat "$stamp") == "$key" ]] || return 0
    for f in "$@"; do [[ -f $f ]] || return 0; done
    return 1
  }
  if stale "$INSTALLER_KEY" "$CACHE/installer.key" "$OUT/installer/vmlinuz" "$OUT/installer/initrd.gz"; then
    step "installer kernel and initramfs" build_installer
    echo "$INSTALLER_KEY" >"$CACHE/installer.key"
  else
    say "installer: up to date ($OUT/installer)"
  fi
  if stale "$IMAGE_KEY" "$CACHE/image.key" "$OUT/images/debian12.img."{gz,zst}{,.sha256}; then
    step "image root (copy, strip, configure, initramfs)" customize_image_root
    step "disk image (mkfs.ext4 -d, FAT + syslinux, MBR)" make_disk
    step "compress and checksum" compress_disk
    remove_tree "$IMGROOT"
    echo "$IMAGE_KEY" >"$CACHE/image.key"
  else
    say "image: up to date ($OUT/images)"
  fi
  say "total $(($(date +%s) - T_ALL)) s"
  ls -l "$OUT/installer" "$OUT/images" | sed 's/^/lab-image:   /'
}

main "$@"; exit $?
