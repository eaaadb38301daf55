package mail

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Dir writes each message as an .eml file under Path, for deployments
// without a mail server: an operator (or a test) reads them there.
type Dir struct {
	Path string
}

// Send implements Transport. The file is written under a temporary name
// and renamed, so a reader never sees half a mail, and a retry of the same
// message replaces its file.
func (d *Dir) Send(ctx context.Context, m *Message) error {
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return fmt.Errorf("create mail folder: %w", err)
	}
	var buf bytes.Buffer
	if err := write(&buf, m); err != nil {
		return err
	}
	name := filepath.Join(d.Path, m.Date.UTC().Format("20060102T150405Z")+"-"+m.ID+".eml")
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
