ALTER TABLE numbers ADD COLUMN ban_expires_at {{.TS}};
