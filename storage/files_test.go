package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/apiws/apiws/storage"
)

// The SQLite files hold whatsmeow's device keys: the database, its WAL and
// its shared memory are created 0600, in a folder created 0700, whatever
// the umask lets through.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask: 0644 files, 0755 folders
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "apiws.db")
	ctx := context.Background()
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil { // writes: the WAL and shared memory exist
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{
		dir: os.ModeDir | 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600,
	} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s is %v, want %v", filepath.Base(name), fi.Mode(), want)
		}
	}

	// A database that exists keeps its mode: the operator chose it.
	other := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(other, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	db2, err := storage.Open(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if fi, err := os.Stat(other); err != nil || fi.Mode() != 0o640 {
		t.Fatalf("an existing database's mode became %v, %v", fi.Mode(), err)
	}
}
