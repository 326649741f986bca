#!/usr/bin/env python3
"""Reads one iCalendar file with three independent engines and prints JSON.

    python3 tests/calendar/check_ics.py FILE.ics

prints

    {"engines": {"libical": {...}, "icalendar": {...}, "icaljs": {...}},
     "missing": {"<engine>": "<why it could not run>"}}

where each engine's result is

    {"engine": "<name version>", "method": "REQUEST" | null,
     "components": [{"uid", "recurrence_id", "sequence", "status",
                     "organizer", "attendees": [{"address", "rsvp", "partstat"}]}],
     "uids": [...], "occurrences": [{"start": "...Z", "end": "...Z"}],
     "errors": [...]}

The engines:

* libical (Debian gir1.2-ical-3.0 through python3-gi): parsed, run through
  ICalGLib.restriction_check (the iTIP rules of RFC 5546 for the METHOD), and
  every X-LIC-ERROR property it left anywhere is an error; occurrences from
  libical's own recurrence expansion (foreach_recurrence);
* Python icalendar: parsed (its parse errors are errors); occurrences expanded
  with dateutil's rrule on the Berlin wall time, as RFC 5545 defines them;
* ical.js (Thunderbird's parser, tests/calendar/check_ics.js under node).

For every series, each occurrence's start and end is written as a UTC instant,
RECURRENCE-ID overrides applied. postbote's Rust tests (tests/calendar/
engines.rs) compare the engines with each other and check the iTIP rules.

python3-gi is a Debian package, so it lives in /usr/bin/python3; icalendar may
live in another interpreter (pyenv, a venv). Each engine therefore runs in the
first interpreter that has it: this one, else /usr/bin/python3.
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_OCCURRENCES = 1000
UTC = dt.timezone.utc


def iso(value):
    """An aware datetime as `YYYY-MM-DDTHH:MM:SSZ`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def empty(engine):
    return {
        "engine": engine,
        "method": None,
        "components": [],
        "uids": [],
        "occurrences": [],
        "errors": [],
    }


# --------------------------------------------------------------------------
# libical
# --------------------------------------------------------------------------


def libical(text):
    import gi

    gi.require_version("ICalGLib", "3.0")
    from gi.repository import ICalGLib as I

    out = empty("libical (ICalGLib %s)" % getattr(I, "_version", "?"))
    cal = I.Component.new_from_string(text)
    if cal is None:
        out["errors"].append("libical could not parse the file")
        return out
    if cal.isa() != I.ComponentKind.VCALENDAR_COMPONENT:
        out["errors"].append("top-level component is not VCALENDAR")
    if not I.restriction_check(cal):
        out["errors"].append("restriction_check failed")

    def walk(comp):
        yield comp
        child = comp.get_first_component(I.ComponentKind.ANY_COMPONENT)
        while child is not None:
            yield from walk(child)
            child = comp.get_next_component(I.ComponentKind.ANY_COMPONENT)

    for comp in walk(cal):
        prop = comp.get_first_property(I.PropertyKind.XLICERROR_PROPERTY)
        while prop is not None:
            out["errors"].append(
                "%s: X-LIC-ERROR %s"
                % (I.Component.kind_to_string(comp.isa()), prop.get_xlicerror())
            )
            prop = comp.get_next_property(I.PropertyKind.XLICERROR_PROPERTY)

    method = cal.get_first_property(I.PropertyKind.METHOD_PROPERTY)
    out["method"] = method.get_value_as_string() if method is not None else None

    utc = I.Timezone.get_utc_timezone()

    def utc_iso(t):
        if t is None or t.is_null_time():
            return None
        if not t.is_utc() and t.get_timezone() is None:
            out["errors"].append("a date-time without a resolvable zone: %s" % t.as_ical_string())
        return (
            dt.datetime.fromtimestamp(t.as_timet_with_zone(t.get_timezone() or utc), UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
        )

    events = []
    comp = cal.get_first_component(I.ComponentKind.VEVENT_COMPONENT)
    while comp is not None:
        events.append(comp)
        comp = cal.get_next_component(I.ComponentKind.VEVENT_COMPONENT)

    def param(prop, name):
        value = prop.get_parameter_as_string(name)
        return value if value else None

    def value(prop):
        return prop.get_value_as_string() if prop is not None else None

    for ev in events:
        organizer = ev.get_first_property(I.PropertyKind.ORGANIZER_PROPERTY)
        attendees = []
        prop = ev.get_first_property(I.PropertyKind.ATTENDEE_PROPERTY)
        while prop is not None:
            attendees.append(
                {
                    "address": value(prop),
                    "rsvp": param(prop, "RSVP"),
                    "partstat": param(prop, "PARTSTAT"),
                }
            )
            prop = ev.get_next_property(I.PropertyKind.ATTENDEE_PROPERTY)
        seq = ev.get_first_property(I.PropertyKind.SEQUENCE_PROPERTY)
        status = ev.get_first_property(I.PropertyKind.STATUS_PROPERTY)
        rid = ev.get_first_property(I.PropertyKind.RECURRENCEID_PROPERTY)
        out["components"].append(
            {
                "uid": ev.get_uid(),
                "recurrence_id": utc_iso(rid.get_datetime_with_component(ev)) if rid is not None else None,
                "sequence": ev.get_sequence() if seq is not None else None,
                "status": value(status),
                "organizer": value(organizer),
                "attendees": attendees,
            }
        )
    out["uids"] = sorted({c["uid"] for c in out["components"]})

    # Overrides by (UID, RECURRENCE-ID as a UTC instant). NOTE:
    # get_recurrenceid() ignores the TZID; the property read with its
    # component resolves it against the calendar's VTIMEZONE.
    overrides = {}
    for ev in events:
        rid = ev.get_first_property(I.PropertyKind.RECURRENCEID_PROPERTY)
        if rid is not None:
            overrides[(ev.get_uid(), utc_iso(rid.get_datetime_with_component(ev)))] = ev

    def span_of(ev):
        return {"start": utc_iso(ev.get_dtstart()), "end": utc_iso(ev.get_dtend())}

    occurrences = []
    for ev in events:
        if ev.get_first_property(I.PropertyKind.RECURRENCEID_PROPERTY) is not None:
            if not any(
                e.get_uid() == ev.get_uid()
                and e.get_first_property(I.PropertyKind.RECURRENCEID_PROPERTY) is None
                for e in events
            ):
                occurrences.append(span_of(ev))
            continue
        recurring = any(
            ev.get_first_property(k) is not None
            for k in (I.PropertyKind.RRULE_PROPERTY, I.PropertyKind.RDATE_PROPERTY)
        )
        if not recurring:
            occurrences.append(span_of(ev))
            continue
        found = []

        def each(_comp, span, _data):
            if len(found) <= MAX_OCCURRENCES:
                found.append((span.get_start(), span.get_end()))

        start = I.Time.new_from_string("19700101T000000Z")
        end = I.Time.new_from_string("21000101T000000Z")
        ev.foreach_recurrence(start, end, each, None)
        if len(found) > MAX_OCCURRENCES:
            out["errors"].append("%s: more than %d occurrences" % (ev.get_uid(), MAX_OCCURRENCES))
        for s, e in found:
            start_iso = dt.datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            end_iso = dt.datetime.fromtimestamp(e, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            override = overrides.get((ev.get_uid(), start_iso))
            occurrences.append(span_of(override) if override is not None else {"start": start_iso, "end": end_iso})
    out["occurrences"] = sorted(occurrences, key=lambda o: o["start"])
    return out


# --------------------------------------------------------------------------
# Python icalendar
# --------------------------------------------------------------------------


def icalendar_engine(data):
    import icalendar
    from dateutil import rrule

    out = empty("icalendar " + getattr(icalendar, "__version__", "?"))
    cal = icalendar.Calendar.from_ical(data)
    for comp in cal.walk():
        for err in getattr(comp, "errors", []) or []:
            out["errors"].append("%s: %s" % (comp.name, err))
    out["method"] = str(cal["METHOD"]) if "METHOD" in cal else None

    def as_list(v):
        if v is None:
            return []
        return v if isinstance(v, list) else [v]

    def aware(value, name):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            out["errors"].append("%s is not a date-time with a zone: %r" % (name, value))
            return None
        return value

    def localize(naive, tz):
        # pytz zones (icalendar < 6) need localize(); zoneinfo zones replace().
        if hasattr(tz, "localize"):
            return tz.localize(naive)
        return naive.replace(tzinfo=tz)

    events = list(cal.walk("VEVENT"))
    for ev in events:
        attendees = []
        for a in as_list(ev.get("ATTENDEE")):
            attendees.append(
                {
                    "address": str(a),
                    "rsvp": a.params.get("RSVP"),
                    "partstat": a.params.get("PARTSTAT"),
                }
            )
        rid = ev.get("RECURRENCE-ID")
        out["components"].append(
            {
                "uid": str(ev.get("UID")) if ev.get("UID") is not None else None,
                "recurrence_id": iso(aware(rid.dt, "RECURRENCE-ID")) if rid is not None else None,
                "sequence": int(ev["SEQUENCE"]) if "SEQUENCE" in ev else None,
                "status": str(ev["STATUS"]) if "STATUS" in ev else None,
                "organizer": str(ev["ORGANIZER"]) if "ORGANIZER" in ev else None,
                "attendees": attendees,
            }
        )
    out["uids"] = sorted({c["uid"] for c in out["components"]})

    def span_of(ev):
        start = aware(ev.decoded("DTSTART"), "DTSTART")
        end = aware(ev.decoded("DTEND"), "DTEND")
        return start, end

    overrides = {}
    for ev in events:
        if "RECURRENCE-ID" in ev:
            overrides[(str(ev["UID"]), iso(ev["RECURRENCE-ID"].dt))] = ev

    occurrences = []
    for ev in events:
        uid = str(ev.get("UID"))
        if "RECURRENCE-ID" in ev:
            if not any(str(e.get("UID")) == uid and "RECURRENCE-ID" not in e for e in events):
                s, e = span_of(ev)
                occurrences.append({"start": iso(s), "end": iso(e)})
            continue
        start, end = span_of(ev)
        if start is None or end is None:
            continue
        # RFC 5545 3.8.5.3: every instance has the exact duration of the first.
        duration = end.astimezone(UTC) - start.astimezone(UTC)
        tz = start.tzinfo
        wall = start.replace(tzinfo=None)
        rules = rrule.rruleset()
        rules.rdate(wall)
        for r in as_list(ev.get("RRULE")):
            rules.rrule(rrule.rrulestr(r.to_ical().decode(), dtstart=wall))
        for name, add in (("RDATE", rules.rdate), ("EXDATE", rules.exdate)):
            for lst in as_list(ev.get(name)):
                for d in lst.dts:
                    value = aware(d.dt, name)
                    if value is not None:
                        add(value.astimezone(tz).replace(tzinfo=None))
        n = 0
        for naive in rules:
            n += 1
            if n > MAX_OCCURRENCES:
                out["errors"].append("%s: more than %d occurrences" % (uid, MAX_OCCURRENCES))
                break
            s = localize(naive, tz)
            override = overrides.get((uid, iso(s)))
            if override is not None:
                os_, oe = span_of(override)
                occurrences.append({"start": iso(os_), "end": iso(oe)})
            else:
                occurrences.append({"start": iso(s), "end": iso(s.astimezone(UTC) + duration)})
    out["occurrences"] = sorted(occurrences, key=lambda o: o["start"])
    return out


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------


def run_engine(name, path):
    if name == "libical":
        with open(path, "r", encoding="utf-8") as f:
            return libical(f.read())
    if name == "icalendar":
        with open(path, "rb") as f:
            return icalendar_engine(f.read())
    raise SystemExit("unknown engine %s" % name)


PROBES = {
    "libical": "import gi; gi.require_version('ICalGLib', '3.0'); from gi.repository import ICalGLib",
    # icalendar < 6 (Debian 12 ships 4.0.3) gets UTC offsets after 2037 wrong.
    "icalendar": "import sys, icalendar, dateutil.rrule; v = icalendar.__version__; "
    "sys.exit(0 if int(v.split('.')[0]) >= 6 else 'icalendar %s is older than 6' % v)",
}


def python_engine(name, path):
    """(result, None) or (None, why it could not run)."""
    # NOTE: compare paths, not real paths: a venv's python links to the
    # system one but has other packages.
    candidates = [sys.executable]
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        candidates.append("/usr/bin/python3")
    tried = []
    for python in candidates:
        probe = subprocess.run([python, "-c", PROBES[name]], capture_output=True, text=True)
        if probe.returncode != 0:
            tried.append("%s: %s" % (python, (probe.stderr.strip().splitlines() or ["?"])[-1]))
            continue
        run = subprocess.run(
            [python, os.path.abspath(__file__), "--engine", name, path],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            return {**empty(name), "errors": ["%s crashed: %s" % (name, run.stderr.strip())]}, None
        return json.loads(run.stdout), None
    return None, "; ".join(tried)


def ical_js(path):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        return None, "node is not installed"
    script = os.path.join(HERE, "check_ics.js")
    if not os.path.exists(os.path.join(HERE, "node_modules", "ical.js", "dist", "ical.es5.cjs")):
        return None, "ical.js is not installed (npm ci in tests/calendar)"
    run = subprocess.run([node, script, path], capture_output=True, text=True)
    if run.returncode != 0:
        return {**empty("ical.js"), "errors": ["ical.js failed: %s" % run.stderr.strip()]}, None
    return json.loads(run.stdout), None


def main(argv):
    if len(argv) == 4 and argv[1] == "--engine":
        print(json.dumps(run_engine(argv[2], argv[3])))
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = os.path.abspath(argv[1])
    engines, missing = {}, {}
    for name in ("libical", "icalendar"):
        result, why = python_engine(name, path)
        if result is not None:
            engines[name] = result
        else:
            missing[name] = why
    result, why = ical_js(path)
    if result is not None:
        engines["icaljs"] = result
    else:
        missing["icaljs"] = why
    print(json.dumps({"engines": engines, "missing": missing}, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
