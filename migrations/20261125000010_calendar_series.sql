-- Part 4 of issue 9: one UID per programme event (a two-day module is one
-- series), and which calendar part each programme mail carried.
--
-- programme_events.uid: the iCalendar UID of the event's series, fixed when
-- postbote first acts on the event (`<key>.<instance>@<domain>`); NULL for
-- rows written before this migration (the same value is derived then).
ALTER TABLE programme_events ADD COLUMN uid TEXT;

-- programme_mails.calendar: the iTIP method of the mail's calendar part,
-- REQUEST or CANCEL, NULL when it carried none (a reminder to a participant
-- who already has the entry, a digest, a skipped mail);
-- programme_mails.sequence: the SEQUENCE of that calendar part.
ALTER TABLE programme_mails ADD COLUMN calendar TEXT;
ALTER TABLE programme_mails ADD COLUMN sequence INTEGER;

-- Before this migration every sent reminder, announcement and update carried
-- a REQUEST (at an unknown SEQUENCE) and every cancellation a CANCEL.
UPDATE programme_mails SET calendar = 'REQUEST'
    WHERE state = 'sent' AND kind IN ('reminder', 'announcement', 'update');
UPDATE programme_mails SET calendar = 'CANCEL' WHERE state = 'sent' AND kind = 'cancel';
