package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// The embedded default's secret key seals message content at rest: it is
// created 0600 in a folder created 0700, and processes starting together
// (a CLI beside the server) end up with the same key.
func TestGeneratedSecretKeyIsPrivateAndShared(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask: 0644 files, 0755 folders
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := &Config{DatabaseURL: filepath.Join(dir, "apiws.db")}
			if err := cfg.ensureSecretKey(); err != nil {
				t.Error(err)
			}
			keys[i] = cfg.SecretKey
		}()
	}
	wg.Wait()
	for i, k := range keys {
		if len(k) != 32 || !bytes.Equal(k, keys[0]) {
			t.Fatalf("process %d got key %x, process 0 %x", i, k, keys[0])
		}
	}
	for name, want := range map[string]os.FileMode{dir: os.ModeDir | 0o700, filepath.Join(dir, "secret.key"): 0o600} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s is %v, want %v", filepath.Base(name), fi.Mode(), want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the folder holds %d files, want secret.key alone", len(entries))
	}

	// A damaged key file is refused, not replaced.
	bad := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(bad, []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{DatabaseURL: filepath.Join(filepath.Dir(bad), "apiws.db")}
	if err := cfg.ensureSecretKey(); err == nil {
		t.Fatal("a secret.key that is not 64 hex characters was accepted")
	}
}
