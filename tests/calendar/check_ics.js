#!/usr/bin/env node
// Reads one iCalendar file with ical.js (the parser of Thunderbird and
// Lightning) and prints what it understood as JSON on stdout:
//
//   {"engine": "ical.js 2.2.1", "method": "REQUEST",
//    "components": [{"uid", "recurrence_id", "sequence", "status",
//                    "organizer", "attendees": [{"address", "rsvp", "partstat"}]}],
//    "uids": [...], "occurrences": [{"start": "…Z", "end": "…Z"}], "errors": []}
//
// Every occurrence of every series is expanded (RRULE, RDATE, EXDATE and the
// RECURRENCE-ID overrides, as Thunderbird shows them) and written as a UTC
// instant. Times are resolved only with the VTIMEZONE components of the file
// itself (ical.js has no zone database), so a wrong VTIMEZONE shows here.
//
// Usage: node tests/calendar/check_ics.js FILE.ics   (driven by check_ics.py)
'use strict';

const fs = require('fs');
const path = require('path');

const ICAL = require(path.join(__dirname, 'node_modules', 'ical.js', 'dist', 'ical.es5.cjs'));
const version = require(path.join(__dirname, 'node_modules', 'ical.js', 'package.json')).version;

// A series postbote writes has a handful of days; anything near this is a bug.
const MAX_OCCURRENCES = 1000;

function iso(time) {
  return time.toJSDate().toISOString().replace('.000Z', 'Z');
}

function text(value) {
  return value === null || value === undefined ? null : String(value);
}

function main() {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: check_ics.js FILE.ics\n');
    process.exit(2);
  }
  const out = {
    engine: `ical.js ${version}`,
    method: null,
    components: [],
    uids: [],
    occurrences: [],
    errors: [],
  };
  const cal = new ICAL.Component(ICAL.parse(fs.readFileSync(file, 'utf8')));
  if (cal.name !== 'vcalendar') {
    out.errors.push(`top-level component is ${cal.name}`);
  }
  out.method = text(cal.getFirstPropertyValue('method'));
  ICAL.TimezoneService.reset();
  for (const vtz of cal.getAllSubcomponents('vtimezone')) {
    ICAL.TimezoneService.register(vtz);
  }

  const events = cal.getAllSubcomponents('vevent');
  const checkZone = (uid, name, time) => {
    if (time && !time.isDate && (!time.zone || time.zone === ICAL.Timezone.localTimezone)) {
      out.errors.push(`${uid}: ${name} has no resolvable time zone (TZID ${time.timezone})`);
    }
  };
  for (const ev of events) {
    const uid = text(ev.getFirstPropertyValue('uid'));
    const rid = ev.getFirstPropertyValue('recurrence-id');
    const organizer = ev.getFirstProperty('organizer');
    for (const name of ['dtstart', 'dtend', 'recurrence-id']) {
      checkZone(uid, name, ev.getFirstPropertyValue(name));
    }
    out.components.push({
      uid,
      recurrence_id: rid ? iso(rid) : null,
      sequence: ev.hasProperty('sequence') ? Number(ev.getFirstPropertyValue('sequence')) : null,
      status: text(ev.getFirstPropertyValue('status')),
      organizer: organizer ? text(organizer.getFirstValue()) : null,
      attendees: ev.getAllProperties('attendee').map((a) => ({
        address: text(a.getFirstValue()),
        rsvp: text(a.getParameter('rsvp')),
        partstat: text(a.getParameter('partstat')),
      })),
    });
  }
  out.uids = [...new Set(out.components.map((c) => c.uid))].sort();

  // One ICAL.Event per series: the master with its overrides related to it.
  for (const master of events.filter((e) => !e.hasProperty('recurrence-id'))) {
    const uid = master.getFirstPropertyValue('uid');
    const exceptions = events.filter(
      (e) => e.hasProperty('recurrence-id') && e.getFirstPropertyValue('uid') === uid,
    );
    const event = new ICAL.Event(master, { exceptions, strictExceptions: true });
    if (!event.isRecurring()) {
      out.occurrences.push({ start: iso(event.startDate), end: iso(event.endDate) });
      continue;
    }
    const it = event.iterator();
    let next;
    let n = 0;
    while ((next = it.next())) {
      const details = event.getOccurrenceDetails(next);
      out.occurrences.push({ start: iso(details.startDate), end: iso(details.endDate) });
      n += 1;
      if (n > MAX_OCCURRENCES) {
        out.errors.push(`${uid}: more than ${MAX_OCCURRENCES} occurrences`);
        break;
      }
    }
  }
  // Overrides without a master (a CANCEL or REQUEST of a single occurrence).
  for (const orphan of events.filter((e) => e.hasProperty('recurrence-id'))) {
    const uid = orphan.getFirstPropertyValue('uid');
    if (!events.some((e) => !e.hasProperty('recurrence-id') && e.getFirstPropertyValue('uid') === uid)) {
      const event = new ICAL.Event(orphan);
      out.occurrences.push({ start: iso(event.startDate), end: iso(event.endDate) });
    }
  }
  out.occurrences.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`ical.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
}
