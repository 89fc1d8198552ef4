#!/usr/bin/env bash
# Builds the Debian package of 3rc: dist/3rc_<version>_<arch>.deb (npm run package).
#
#   /usr/lib/3rc        package.json, bin/, dist/src, dist/web, web assets, templates/,
#                       kickstarts/, examples/, boot/fetch.sh, production node_modules
#                       (npm ci --omit=dev, with better-sqlite3's native binding for this machine)
#   /usr/bin/3rc        symlink to /usr/lib/3rc/bin/3rc.js
#   /etc/3rc/config.yaml  conffile: examples/lab.yaml (reservation-only, HA off) with its state
#                       paths moved to /var/lib/3rc (store, boot files, lab keys, P2V storage)
#   /lib/systemd/system/3rc.service   packaging/3rc.service
#   /var/lib/3rc        created 0700 for the 3rc system user by postinst (packaging/debian/)
#
# Needs dpkg-deb, the repository's node_modules (npm ci) and the TypeScript compiler; works offline
# when npm's cache holds the dependencies. THREERC_PKG_OUT overrides the output folder (dist).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
out=${THREERC_PKG_OUT:-$root/dist}
deb="$out/3rc_${version}_${arch}.deb"

stage=$(mktemp -d "${TMPDIR:-/tmp}/3rc-package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
lib=$stage/usr/lib/3rc

echo "package: compiling"
npx tsc -p tsconfig.json

echo "package: staging /usr/lib/3rc"
mkdir -p "$lib/dist" "$lib/web" "$lib/boot"
cp package.json package-lock.json README.md "$lib/"
cp -r bin templates kickstarts examples "$lib/"
cp boot/README.md "$lib/boot/"
# Installed, fetch.sh fills /var/lib/3rc/boot (the packaged config's paths.boot), not its own folder.
sed 's#^cd "$(dirname "$0")"$#cd "${THREERC_BOOT_DIR:-/var/lib/3rc/boot}"#' boot/fetch.sh > "$lib/boot/fetch.sh"
chmod 0755 "$lib/boot/fetch.sh"
grep -q 'THREERC_BOOT_DIR' "$lib/boot/fetch.sh" || { echo "package.sh: cannot point boot/fetch.sh at /var/lib/3rc/boot" >&2; exit 1; }
cp web/*.html web/*.css "$lib/web/"
# The compiled code without its tests (dist/test and dist/bench are not shipped either).
(cd dist && find src web -type f ! -name '*.test.js' ! -name '*.test.js.map' -print0 | cpio -0pdm --quiet "$lib/dist")

echo "package: production node_modules (npm ci --omit=dev)"
(cd "$lib" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error)
# The native SQLite binding: reuse the one built for this machine by the repository's npm ci when
# it is the same better-sqlite3 version, else build it here (python3, make, g++ and node's headers).
binding=build/Release/better_sqlite3.node
want=$(node -p 'require("./package-lock.json").packages["node_modules/better-sqlite3"].version')
have=$(node -p 'try { require("./node_modules/better-sqlite3/package.json").version } catch { "" }')
if [[ "$want" == "$have" && -f node_modules/better-sqlite3/$binding ]]; then
  mkdir -p "$lib/node_modules/better-sqlite3/build/Release"
  cp "node_modules/better-sqlite3/$binding" "$lib/node_modules/better-sqlite3/$binding"
else
  (cd "$lib" && npm rebuild better-sqlite3 --foreground-scripts --loglevel=error)
fi
(cd "$lib" && node -e 'const D = require("better-sqlite3"); new D(":memory:").prepare("select 1").get()') \
  || { echo "package.sh: the better-sqlite3 binding does not load" >&2; exit 1; }
# Only the binding is needed at run time: drop SQLite's sources and the build's intermediate files.
find "$lib/node_modules/better-sqlite3" -mindepth 1 -maxdepth 1 \( -name deps -o -name src \) -exec rm -rf {} +
find "$lib/node_modules/better-sqlite3/build" -mindepth 1 ! -path "*/build/Release" ! -path "*/$binding" -prune -exec rm -rf {} +
rm -f "$lib/package-lock.json"

echo "package: /usr/bin, /etc, systemd unit, docs"
mkdir -p "$stage/usr/bin" "$stage/etc/3rc" "$stage/lib/systemd/system" "$stage/usr/share/doc/3rc" "$stage/DEBIAN"
ln -s ../lib/3rc/bin/3rc.js "$stage/usr/bin/3rc"
chmod 0755 "$lib/bin/3rc.js"
install -m 0644 packaging/3rc.service "$stage/lib/systemd/system/3rc.service"
ln -s ../../../lib/3rc/README.md "$stage/usr/share/doc/3rc/README.md"
{
  cat <<'HEAD'
# /etc/3rc/config.yaml: 3rc's config, as installed by the Debian package (a conffile: your
# changes are kept on upgrade). It is examples/lab.yaml (/usr/lib/3rc/examples/lab.yaml) with
# its state under /var/lib/3rc: the store and API token, the boot files (paths.boot, filled by
# /usr/lib/3rc/boot/fetch.sh), P2V storage. Templates and kickstarts are /usr/lib/3rc's.
#
# DHCP answers only the MACs listed under hosts (no dynamic pool) and the HA controller is off:
# replace the lab's network, hosts and hypervisors with yours, check with
# `3rc check-config /etc/3rc/config.yaml`, then `systemctl start 3rc` (or `systemctl reload 3rc`).
HEAD
  echo
  # examples/lab.yaml without its own header comment, its paths moved under /var/lib/3rc.
  sed -e '1,/^$/d' \
      -e 's#path: \.\./var/lab\.db .*#path: /var/lib/3rc/3rc.db#' \
      -e 's#\.\./var/lab/#/var/lib/3rc/#g' \
      -e 's|^store:|paths:\n  boot: /var/lib/3rc/boot       # boot loaders, kernels, initrds (TFTP and HTTP)\n\nstore:|' \
      examples/lab.yaml
} > "$stage/etc/3rc/config.yaml"
chmod 0644 "$stage/etc/3rc/config.yaml"
if grep -q '\.\./var' "$stage/etc/3rc/config.yaml"; then echo "package.sh: a path of examples/lab.yaml was not moved" >&2; exit 1; fi
node bin/3rc.js check-config "$stage/etc/3rc/config.yaml" >/dev/null 2>&1 || node bin/3rc.js check-config "$stage/etc/3rc/config.yaml"

size_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: 3rc
Version: $version
Architecture: $arch
Maintainer: 3rc developers <root@localhost>
Installed-Size: $size_kb
Depends: nodejs (>= 20), passwd
Recommends: systemd
Section: net
Priority: optional
Homepage: https://example.invalid/3rc
Description: network-boot server (DHCP, TFTP, HTTP, DNS) with an HA controller
 3rc serves PXE and UEFI HTTP boot, kickstarts and preseeds, DNS for the hosts it installs,
 and restarts, reboots or reinstalls failed VMs (embedded high-availability controller).
 The service runs as the 3rc user with only CAP_NET_BIND_SERVICE and CAP_NET_RAW (router advertisements); its state is /var/lib/3rc.
CONTROL
echo /etc/3rc/config.yaml > "$stage/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz -z6 --build "$stage" "$deb" >/dev/null
echo "package: $deb ($(du -h "$deb" | cut -f1), installed $((size_kb / 1024)) MiB)"
