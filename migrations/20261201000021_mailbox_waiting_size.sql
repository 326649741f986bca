-- Part 7: a message over `mailbox.max_message_bytes` (RFC822.SIZE, asked
-- before FETCH) is not fetched. It stays in the watched folder with a row
-- here: stage 'too_large', permanent = 1, and its size in bytes. The row
-- goes when the message leaves the folder, like every row of this table.
-- NULL for every other row (the size is only asked for new messages).
ALTER TABLE mailbox_waiting ADD COLUMN size INTEGER;
