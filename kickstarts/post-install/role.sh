#!/bin/sh
# 3rc post-install step: learn this host's role from DNS and install it.
#
# A freshly installed host runs this once (kickstart %post or preseed late_command). It asks the
# 3rc DNS server for the HINFO record of its own name; 3rc publishes the host's role in the CPU
# field (see src/dns/zone.ts), e.g.  vm10.lab.test. HINFO "middleware" "debian12".
# It then runs roles/<role>/install.sh.
#
# Environment (all optional):
#   THREERC_DNS       DNS server to ask (default: the system resolver)
#   THREERC_DNS_PORT  its port (default: 53)
#   THREERC_DNS_TOOL  dig or host (default: dig when installed, else host)
#   THREERC_FQDN      name to look up (default: hostname -f, plus the resolv.conf domain if bare)
#   THREERC_RETRIES   lookups tried before giving up, 3 s apart (default: 5; DNS may lag the install)
#   ROLES_DIR         folder holding <role>/install.sh (default: ../roles beside this script)
#   ROLES_URL         where 3rc serves the roles (http://SERVER/files/roles): when ROLES_DIR lacks
#                     the role, its install.sh and common.sh are fetched from there first
#   DRY_RUN=1         print the role script that would run, and run nothing
#
# Exit status: 0 role installed (or no role published), 1 no HINFO answer, 2 unusable role.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
ROLES_DIR=${ROLES_DIR:-$here/../roles}
port=${THREERC_DNS_PORT:-53}
server=${THREERC_DNS:-}
retries=${THREERC_RETRIES:-5}

log() { printf '3rc-role: %s\n' "$*" >&2; }

fqdn=${THREERC_FQDN:-}
if [ -z "$fqdn" ]; then
  fqdn=$(hostname -f 2>/dev/null || hostname)
  case $fqdn in
    *.*) ;;
    *)
      # A bare name: complete it with the resolver's domain (or first search domain).
      dom=$(awk '$1 == "domain" || $1 == "search" { print $2; exit }' /etc/resolv.conf 2>/dev/null || true)
      [ -n "$dom" ] && fqdn=$fqdn.$dom
      ;;
  esac
fi

tool=${THREERC_DNS_TOOL:-}
if [ -z "$tool" ]; then
  if command -v dig >/dev/null 2>&1; then tool=dig
  elif command -v host >/dev/null 2>&1; then tool=host
  else log "neither dig nor host is installed (bind9-dnsutils / bind-utils)"; exit 1
  fi
fi

# Prints the HINFO answer line(s) for $fqdn, or nothing.
lookup() {
  case $tool in
    dig)
      if [ -n "$server" ]; then dig +short +time=2 +tries=2 -p "$port" "@$server" "$fqdn" HINFO
      else dig +short +time=2 +tries=2 "$fqdn" HINFO
      fi
      ;;
    host)
      if [ -n "$server" ]; then host -W 2 -t HINFO -p "$port" "$fqdn" "$server"
      else host -W 2 -t HINFO "$fqdn"
      fi
      ;;
    *) log "THREERC_DNS_TOOL must be dig or host, not $tool"; exit 1 ;;
  esac
}

role=
n=0
while [ "$n" -lt "$retries" ]; do
  n=$((n + 1))
  # dig: "middleware" "debian12"    host: vm10.lab.test host information "middleware" "debian12"
  # The role is the first quoted string: the CPU field.
  role=$(lookup 2>/dev/null | sed -n 's/^[^"]*"\([^"]*\)".*/\1/p' | head -n 1) || role=
  [ -n "$role" ] && break
  [ "$n" -lt "$retries" ] && sleep 3
done

if [ -z "$role" ]; then
  log "no HINFO record for $fqdn (asked ${server:-the system resolver} with $tool)"
  exit 1
fi
if [ "$role" = none ]; then
  log "$fqdn has no role (HINFO cpu is \"none\"): nothing to install"
  exit 0
fi
# The role names a folder: accept plain names only, never a path.
case $role in
  *[!a-z0-9_-]* | -*) log "refusing role \"$role\" of $fqdn: expected letters, digits, - or _"; exit 2 ;;
esac
script=$ROLES_DIR/$role/install.sh
# fetch URL FILE: with curl or wget, whichever the installed system has.
fetch() {
  if command -v curl >/dev/null 2>&1; then curl -fsS -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"
  else log "neither curl nor wget is installed: cannot fetch $1"; return 1
  fi
}
if [ ! -f "$script" ] && [ -n "${ROLES_URL:-}" ]; then
  mkdir -p "$ROLES_DIR/$role"
  if ! fetch "$ROLES_URL/common.sh" "$ROLES_DIR/common.sh" || ! fetch "$ROLES_URL/$role/install.sh" "$script"; then
    rm -f "$script"
    log "cannot fetch role $role from $ROLES_URL"
    exit 2
  fi
fi
if [ ! -f "$script" ]; then
  log "role $role of $fqdn has no $script"
  exit 2
fi
log "$fqdn has role $role"
if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "would run: $script"
  exit 0
fi
ROLE=$role FQDN=$fqdn exec sh "$script"
