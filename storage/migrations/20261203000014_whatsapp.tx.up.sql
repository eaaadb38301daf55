CREATE TABLE wa_learned_lids (
  our_jid TEXT NOT NULL,
  lid TEXT NOT NULL,
  PRIMARY KEY (our_jid, lid)
);
--bun:split
CREATE INDEX wa_learned_lids_lid ON wa_learned_lids (lid);
--bun:split
DELETE FROM messages WHERE direction = 'INBOUND' AND wa_message_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM messages m2 WHERE m2.direction = 'INBOUND' AND m2.number_id = messages.number_id
    AND m2.wa_message_id = messages.wa_message_id AND m2.id < messages.id);
--bun:split
CREATE UNIQUE INDEX messages_inbound_wa ON messages (number_id, wa_message_id) WHERE direction = 'INBOUND';
