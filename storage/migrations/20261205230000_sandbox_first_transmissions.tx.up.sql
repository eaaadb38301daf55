-- A message id's first transmission is unique: the record's writes find
-- an earlier one through this index (ON CONFLICT), with no lookup to plan.
-- The table is locked against instances still recording the old way;
-- any earlier pair of firsts (a race of those) keeps its oldest.
{{if .Postgres}}LOCK TABLE sandbox_transmissions IN SHARE ROW EXCLUSIVE MODE{{else}}SELECT 1{{end}};
--bun:split
UPDATE sandbox_transmissions SET duplicate = TRUE
WHERE NOT duplicate AND EXISTS (
  SELECT 1 FROM sandbox_transmissions o
  WHERE o.message_id = sandbox_transmissions.message_id AND NOT o.duplicate AND o.id < sandbox_transmissions.id);
--bun:split
CREATE UNIQUE INDEX sandbox_transmissions_first ON sandbox_transmissions (message_id) WHERE NOT duplicate;
