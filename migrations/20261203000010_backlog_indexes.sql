-- Part 10: lookups that grew with every mail of a backlog read indexes only.
--
-- The send caps count recent mail. `state` and `cap` sit after `raw` in the
-- row, so each counted row's raw bytes (its overflow pages) were read to
-- test them: the hourly cap's count covers every mail of the hour, and a
-- backlog of 1,000 confirmations read about 2.6 GB of pages. The new
-- indexes hold every column the counts test.
DROP INDEX IF EXISTS outbox_cap_created;
CREATE INDEX outbox_cap_created ON outbox(cap, created_at, state);
DROP INDEX IF EXISTS outbox_recipient;
CREATE INDEX outbox_recipient ON outbox(env_to, created_at, state, cap);
-- The application a sender may change is found by its owner too (staff
-- moved it to another address); before, every application of the
-- programme was read for each incoming mail.
CREATE INDEX applications_owner ON applications(programme, owner);
