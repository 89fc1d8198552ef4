#!/bin/sh
# Role "services": front services (nginx web server, time sync, rsyslog).
set -eu
. "$(dirname -- "$0")/../common.sh"
require_root
pkg_install nginx chrony rsyslog -- nginx chrony rsyslog
enable_service chrony 2>/dev/null || enable_service chronyd
enable_service nginx
mkdir -p /etc/3rc
echo services > /etc/3rc/role
log "services installed"
