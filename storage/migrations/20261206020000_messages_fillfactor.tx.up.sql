-- A message's row is updated after its insert (SENT, DELIVERED, READ).
-- On a full page PostgreSQL writes each new version on another page and
-- adds it to every index of messages (seven); with room left on the page
-- the update stays there (a heap-only tuple) and no index changes, since
-- no indexed column changes with a status. A batch's receipts update all
-- the messages of a page in one statement, each version a little larger
-- than the last (its times filled in): 60% of a page left free holds
-- them (at 50%, a tenth of the rows still moved). Pages written from now
-- on keep the room.
{{if .Postgres}}ALTER TABLE messages SET (fillfactor = 40){{else}}SELECT 1{{end}};
