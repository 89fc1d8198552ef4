#!/usr/bin/env bash
# Fills boot/ (3rc's paths.boot in examples/lab.yaml) with the boot loaders and installer images
# that the lab serves over TFTP and HTTP, from Debian's packages only: nothing is downloaded from
# anywhere else and nothing here is committed. Idempotent; run as root when packages are missing.
#
#   boot/fetch.sh            install the packages if needed, then copy the files
#   boot/fetch.sh --check    only say what is missing (exit 1 if anything is)
#
# What lands where (relative to boot/):
#   pxelinux.0, ldlinux.c32            BIOS PXE loader (pxelinux, syslinux-common)
#   syslinux.efi, ldlinux.e64          x64 UEFI loader, reads the same pxelinux.cfg/ (syslinux-efi)
#   debian-installer/12/amd64/linux    Debian 12 installer kernel and initrd
#   debian-installer/12/amd64/initrd.gz  (debian-installer-12-netboot-amd64)
# The lab's own installer and disk image (boot/lab/) are built by scripts/lab-image.sh.
set -euo pipefail
cd "$(dirname "$0")"

packages=(pxelinux syslinux-common syslinux-efi debian-installer-12-netboot-amd64)
di=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
# source -> destination (relative to boot/)
files=(
  "/usr/lib/PXELINUX/pxelinux.0:pxelinux.0"
  "/usr/lib/syslinux/modules/bios/ldlinux.c32:ldlinux.c32"
  "/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi:syslinux.efi"
  "/usr/lib/syslinux/modules/efi64/ldlinux.e64:ldlinux.e64"
  "$di/linux:debian-installer/12/amd64/linux"
  "$di/initrd.gz:debian-installer/12/amd64/initrd.gz"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [[ "${1:-}" == "--check" ]]; then
  status=0
  [[ ${#missing[@]} -eq 0 ]] || { echo "fetch.sh: packages not installed: ${missing[*]}"; status=1; }
  for f in "${files[@]}"; do
    dst=${f#*:}
    [[ -s $dst ]] || { echo "fetch.sh: missing boot/$dst"; status=1; }
  done
  exit $status
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "fetch.sh: needs root to install ${missing[*]}" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for f in "${files[@]}"; do
  src=${f%%:*}
  dst=${f#*:}
  [[ -s $src ]] || { echo "fetch.sh: $src is missing although its package is installed" >&2; exit 1; }
  mkdir -p "$(dirname "$dst")"
  # Copy only when changed, so a running 3rc's file cache and ETags stay valid.
  if ! cmp -s "$src" "$dst"; then
    cp "$src" "$dst.tmp" && mv "$dst.tmp" "$dst"
    echo "boot/$dst  <- $src ($(stat -c %s "$dst") bytes)"
  fi
done
echo "boot/ is ready"
