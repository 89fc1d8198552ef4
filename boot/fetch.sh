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
#   ipxe.efi                           x64 UEFI HTTP Boot loader (ipxe; bootFiles.httpX64)
#   grubaa64.efi                       ARM64 UEFI PXE and HTTP Boot loader: the arm64 installer's
#                                      Debian-signed netboot GRUB, prefix /debian-installer/arm64/grub
#                                      (debian-installer-12-netboot-arm64; bootFiles.efiArm64, .httpArm64)
#   debian-installer/12/arm64/linux    Debian 12 arm64 installer kernel and initrd (same package)
#   debian-installer/12/arm64/initrd.gz
#   shimx64.efi, grubx64.efi           the Secure Boot chain, for a profile with
#                                      `loaders: { efiX64: shimx64.efi }` and `chain: grub`: the
#                                      Microsoft-signed shim (shim-signed) loads grubx64.efi from its
#                                      own directory, here Debian's signed grubnetx64.efi.signed
#                                      (grub-efi-amd64-signed, prefix /grub: it reads grub/grub.cfg*)
# The lab's own installer and disk image (boot/lab/) are built by scripts/lab-image.sh.
set -euo pipefail
cd "$(dirname "$0")"

packages=(pxelinux syslinux-common syslinux-efi debian-installer-12-netboot-amd64 ipxe shim-signed grub-efi-amd64-signed debian-installer-12-netboot-arm64)
di=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
di_arm64=/usr/lib/debian-installer/images/12/arm64/text/debian-installer/arm64
# source -> destination (relative to boot/)
files=(
  "/usr/lib/PXELINUX/pxelinux.0:pxelinux.0"
  "/usr/lib/syslinux/modules/bios/ldlinux.c32:ldlinux.c32"
  "/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi:syslinux.efi"
  "/usr/lib/syslinux/modules/efi64/ldlinux.e64:ldlinux.e64"
  "$di/linux:debian-installer/12/amd64/linux"
  "$di/initrd.gz:debian-installer/12/amd64/initrd.gz"
  "/usr/lib/ipxe/ipxe.efi:ipxe.efi"
  "$di_arm64/grubaa64.efi:grubaa64.efi"
  "$di_arm64/linux:debian-installer/12/arm64/linux"
  "$di_arm64/initrd.gz:debian-installer/12/arm64/initrd.gz"
  "/usr/lib/shim/shimx64.efi.signed:shimx64.efi"
  "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed:grubx64.efi"
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
