-- A message id's first transmission is unique: the record's writes find
-- an earlier one through this index (ON CONFLICT), with no lookup to plan.
-- Any earlier pair of firsts (a race before this index) keeps its oldest.
UPDATE sandbox_transmissions SET duplicate = TRUE
WHERE NOT duplicate AND EXISTS (
  SELECT 1 FROM sandbox_transmissions o
  WHERE o.message_id = sandbox_transmissions.message_id AND NOT o.duplicate AND o.id < sandbox_transmissions.id);
--bun:split
CREATE UNIQUE INDEX sandbox_transmissions_first ON sandbox_transmissions (message_id) WHERE NOT duplicate;
