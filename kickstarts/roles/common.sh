# Shared by the role scripts (POSIX sh, sourced). Installs packages with whichever package
# manager the system has, and enables services when systemd runs. Every step is idempotent:
# running a role twice changes nothing the second time.

log() { printf '3rc-role[%s]: %s\n' "${ROLE:-?}" "$*" >&2; }

# pkg_install APT_PACKAGES -- DNF_PACKAGES
# THREERC_ROLE_PACKAGES=skip: install nothing, say so, and go on (an image that carries its
# packages already, or a lab with no package mirror).
pkg_install() {
  apt_pkgs=
  dnf_pkgs=
  side=apt
  for p in "$@"; do
    if [ "$p" = -- ]; then side=dnf; continue; fi
    if [ "$side" = apt ]; then apt_pkgs="$apt_pkgs $p"; else dnf_pkgs="$dnf_pkgs $p"; fi
  done
  if [ "${THREERC_ROLE_PACKAGES:-install}" = skip ]; then
    log "packages not installed (THREERC_ROLE_PACKAGES=skip):$apt_pkgs"
    return 0
  fi
  if command -v apt-get >/dev/null 2>&1; then
    log "apt-get install$apt_pkgs"
    DEBIAN_FRONTEND=noninteractive apt-get -y -q update
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get -y -q install --no-install-recommends $apt_pkgs
  elif command -v dnf >/dev/null 2>&1; then
    log "dnf install$dnf_pkgs"
    # shellcheck disable=SC2086
    dnf -y -q install $dnf_pkgs
  else
    log "no apt-get or dnf on this system: cannot install$apt_pkgs"
    return 1
  fi
}

# enable_service NAME: start now and at boot, when systemd is running (a role run by cloud-init on
# the booted system, not in an installer's chroot). With THREERC_ROLE_PACKAGES=skip the unit may
# not exist (its package was not installed): say so and go on, as pkg_install does; otherwise a
# missing unit is an error. THREERC_SYSTEMD_RUN: systemd's run folder (/run/systemd/system; tests).
enable_service() {
  if [ ! -d "${THREERC_SYSTEMD_RUN:-/run/systemd/system}" ] || ! command -v systemctl >/dev/null 2>&1; then
    log "systemd not running: $1 will start at next boot if its package enables it"
  elif [ "${THREERC_ROLE_PACKAGES:-install}" = skip ] && ! systemctl cat "$1" >/dev/null 2>&1; then
    log "$1 not enabled: no such unit (packages not installed, THREERC_ROLE_PACKAGES=skip)"
  else
    systemctl enable --now "$1"
  fi
}

require_root() {
  if [ "$(id -u)" != 0 ]; then
    log "must run as root"
    exit 1
  fi
}
