#!/usr/bin/env bash
# Installs the Debian packages that the test suite needs (real Dovecot and Postfix).
# Idempotent: does nothing when everything is present. Needs root (or sudo).
set -euo pipefail
need=()
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd dovecot-lmtpd)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
command -v postfix >/dev/null 2>&1 || need+=(postfix)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
if [ ${#need[@]} -eq 0 ]; then
  echo "test dependencies present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "postfix postfix/mailname string postbote.test" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
# The packaged services are not needed: the tests start private instances.
$SUDO service dovecot stop >/dev/null 2>&1 || true
$SUDO postfix stop >/dev/null 2>&1 || true
echo "installed: ${need[*]}"
