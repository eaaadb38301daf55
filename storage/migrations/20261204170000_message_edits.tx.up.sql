ALTER TABLE messages ADD COLUMN edited_at {{.TS}};
ALTER TABLE messages ADD COLUMN revoked_at {{.TS}};
