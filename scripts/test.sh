#!/usr/bin/env bash
# The whole test suite, as CI runs it, on a fresh Debian machine:
# installs Dovecot, Postfix and the iCalendar engines if missing, then lints and runs every test
# (unit tests, and integration tests against private Dovecot/Postfix instances).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo fmt --check
# No import cycle between the files of src/ (and the checker still finds one).
python3 scripts/check-imports.py --self-test
python3 scripts/check-imports.py
cargo clippy --all-targets --locked -- -D warnings
# The calendar tests must fail, not skip, when any of the three iCalendar engines (libical,
# Python icalendar, ical.js; tests/calendar/engines.rs) is missing.
export POSTBOTE_REQUIRE_ICALENDAR=1
cargo test --locked -- --test-threads="${POSTBOTE_TEST_THREADS:-4}"
