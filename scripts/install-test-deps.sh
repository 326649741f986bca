#!/usr/bin/env bash
# Installs what the test suite needs on Debian 12: real Dovecot (IMAP + LMTP) and Postfix,
# which tests/daemon/mail_servers.rs starts as private instances, plus sqlite3 and
# systemd-analyze (to verify the shipped unit); and the three
# independent iCalendar engines that read back every .ics postbote writes
# (tests/calendar/check_ics.py): libical (gir1.2-ical-3.0 through python3-gi), Python
# icalendar, and ical.js under Node (npm ci in tests/calendar); and Python openpyxl, which
# opens the overview spreadsheet (XLSX).
#
# Idempotent (does nothing when everything is present) and non-interactive: it runs on a
# brand-new machine with CI=true and no stdin. Needs root, or sudo without a password
# prompt when stdin is not a terminal.
#
# Nothing else is configured system-wide: the harness runs both daemons from private
# configuration directories as root and needs neither /etc/postfix/main.cf nor
# `alternate_config_directories` (only Postfix's set-gid tools such as sendmail/postqueue
# would). The packaged system services are kept from starting; the tests never use them.
set -euo pipefail

packages=(dovecot-imapd dovecot-lmtpd postfix sqlite3 openssl ca-certificates
  gir1.2-ical-3.0 python3-gi)

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
for pkg in "${packages[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
# Node and npm only when there are none: a Node from elsewhere (NodeSource) ships its own npm,
# and Debian's npm package conflicts with it.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# systemd-analyze checks the shipped unit (deploy/postbote.service; tests/daemon/operations.rs).
# Slim images lack the systemd package; nothing here starts it.
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  if [ -t 0 ]; then SUDO=(sudo); else SUDO=(sudo -n); fi
else
  SUDO=()
fi

as_root() {
  if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
    echo "install-test-deps: need root or sudo to run: $*" >&2
    exit 1
  fi
  "${SUDO[@]}" "$@"
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${missing[*]}"
  # "No configuration": no /etc/postfix/main.cf, so no system Postfix is ever started.
  as_root debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string postbote.test
EOF
  # Keep maintainer scripts from starting the packaged daemons (Debian's policy-rc.d
  # mechanism, honoured by invoke-rc.d and deb-systemd-invoke); removed again on exit.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    trap 'as_root rm -f "$policy"' EXIT
  fi
  apt_env=(env DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true)
  apt_opts=(-o Acquire::Retries=3 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  as_root "${apt_env[@]}" apt-get "${apt_opts[@]}" update -qq </dev/null
  as_root "${apt_env[@]}" apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}" </dev/null
fi

# Stop packaged daemons that may have been started by an earlier install or at boot; the
# tests start their own instances.
if [ -x /usr/sbin/dovecot ] && [ -e /run/dovecot/master.pid ]; then
  as_root /usr/sbin/dovecot stop >/dev/null 2>&1 || true
fi
if [ -x /usr/sbin/postfix ] && [ -f /etc/postfix/main.cf ]; then
  as_root /usr/sbin/postfix stop >/dev/null 2>&1 || true
fi

# Python's icalendar reads back every .ics postbote writes (tests/calendar/check_ics.py and the
# python check in src/calendar/ics.rs): an independent parser, not our own. Version 6 or later:
# older ones (Debian 12 packages 4.0.3) compute wrong UTC offsets for dates after 2037, which the
# test programme uses. On Debian's own python3, pip needs --break-system-packages (PEP 668).
icalendar_ok() {
  python3 -c 'import sys, icalendar, dateutil.rrule; sys.exit(int(icalendar.__version__.split(".")[0]) < 6)' \
    >/dev/null 2>&1
}
if ! icalendar_ok; then
  echo "install-test-deps: installing Python icalendar (>= 6)"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-pip </dev/null
  fi
  pip_install=(python3 -m pip install --quiet --disable-pip-version-check --upgrade "icalendar>=6")
  "${pip_install[@]}" </dev/null || as_root "${pip_install[@]}" --break-system-packages </dev/null
fi
icalendar_ok || { echo "install-test-deps: Python icalendar >= 6 missing" >&2; exit 1; }

# Python's openpyxl opens the overview spreadsheet (XLSX) postbote writes (tests/daemon/overview.rs
# and tests/overview/check_xlsx.py): typed cells, frozen header row, filters.
openpyxl_ok() {
  python3 -c 'import openpyxl' >/dev/null 2>&1
}
if ! openpyxl_ok; then
  echo "install-test-deps: installing Python openpyxl"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-pip </dev/null
  fi
  pip_install=(python3 -m pip install --quiet --disable-pip-version-check --upgrade "openpyxl>=3.1")
  "${pip_install[@]}" </dev/null || as_root "${pip_install[@]}" --break-system-packages </dev/null
fi
openpyxl_ok || { echo "install-test-deps: Python openpyxl missing" >&2; exit 1; }

# ical.js, Thunderbird's parser, at the version pinned in tests/calendar/package-lock.json.
calendar_dir="$(cd "$(dirname "$0")/../tests/calendar" && pwd)"
wanted_icaljs="$(node -p "require('$calendar_dir/package-lock.json').packages['node_modules/ical.js'].version")"
have_icaljs="$(node -p "require('$calendar_dir/node_modules/ical.js/package.json').version" 2>/dev/null || true)"
if [ "$have_icaljs" != "$wanted_icaljs" ]; then
  echo "install-test-deps: installing ical.js $wanted_icaljs (npm ci in tests/calendar)"
  (cd "$calendar_dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
fi

# All three engines must read a sample calendar, or the calendar tests fail in CI.
sample="$(mktemp --suffix=.ics)"
printf '%s\r\n' BEGIN:VCALENDAR PRODID:-//postbote//check//DE VERSION:2.0 METHOD:REQUEST \
  BEGIN:VEVENT UID:check@postbote.test DTSTAMP:20260101T000000Z DTSTART:20260101T090000Z \
  DTEND:20260101T100000Z SEQUENCE:0 SUMMARY:check ORGANIZER:mailto:a@postbote.test \
  ATTENDEE:mailto:b@postbote.test END:VEVENT END:VCALENDAR >"$sample"
engines="$(python3 "$calendar_dir/check_ics.py" "$sample")"
rm -f "$sample"
if ! printf '%s' "$engines" | python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(1 if d["missing"] or len(d["engines"]) != 3 else 0)'; then
  echo "install-test-deps: a calendar engine is missing: $engines" >&2
  exit 1
fi
# ReportLab makes fillable PDF forms as a third-party tool would (tests/forms/).
if ! python3 -c 'import reportlab' >/dev/null 2>&1; then
  echo "install-test-deps: installing ReportLab"
  pip_install=(python3 -m pip install --quiet --disable-pip-version-check reportlab)
  "${pip_install[@]}" </dev/null || as_root "${pip_install[@]}" --break-system-packages </dev/null
fi
python3 -c 'import reportlab' || { echo "install-test-deps: ReportLab missing" >&2; exit 1; }

# Sanity check of what tests/daemon/mail_servers.rs relies on.
problems=()
for path in /usr/sbin/dovecot /usr/lib/dovecot/imap /usr/lib/dovecot/imap-login \
  /usr/lib/dovecot/lmtp /usr/sbin/postfix /usr/lib/postfix/sbin/master /usr/bin/systemd-analyze; do
  [ -x "$path" ] || problems+=("missing $path")
done
for user in mail postfix dovecot dovenull; do
  getent passwd "$user" >/dev/null || problems+=("missing user $user")
done
getent group postdrop >/dev/null || problems+=("missing group postdrop")
if [ ${#problems[@]} -gt 0 ]; then
  printf 'install-test-deps: %s\n' "${problems[@]}" >&2
  exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: installed ${missing[*]}"
else
  echo "install-test-deps: test dependencies present"
fi
