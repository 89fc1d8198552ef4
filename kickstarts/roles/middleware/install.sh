#!/bin/sh
# Role "middleware": a Java application server tier (JRE + Tomcat), with time sync.
set -eu
. "$(dirname -- "$0")/../common.sh"
require_root
pkg_install default-jre-headless tomcat10 chrony -- java-17-openjdk-headless tomcat chrony
enable_service chrony 2>/dev/null || enable_service chronyd
if [ -d /etc/tomcat10 ]; then enable_service tomcat10; else enable_service tomcat; fi
mkdir -p /etc/3rc
echo middleware > /etc/3rc/role
log "middleware installed"
