ALTER TABLE operator_keys ADD COLUMN expires_at {{.TS}};
