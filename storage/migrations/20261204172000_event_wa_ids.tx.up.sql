ALTER TABLE log_events ADD COLUMN wa_message_id TEXT;
CREATE UNIQUE INDEX log_events_number_wa ON log_events (number_id, wa_message_id) WHERE wa_message_id IS NOT NULL;
