package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// profile captures a CPU profile of the server for dur in the background,
// saved as <name>.pprof with a <name>.txt summary (pprof -top) in the
// profile folder. The returned channel is closed when it is done; with no
// name or no pprof address it is closed at once.
func (b *bench) profile(ctx context.Context, name string, dur time.Duration) <-chan struct{} {
	done := make(chan struct{})
	if name == "" || b.pprofAddr == "" || b.opts.profileDir == "" {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		path, err := b.captureProfile(ctx, name, dur)
		if err != nil {
			b.report.note("profile %s: %v", name, err)
			return
		}
		b.logf("profile %s: %s", name, path)
	}()
	return done
}

// heapProfile saves the server's live heap as <name>.pprof (and its -top
// summary by in-use space), for what idle subscriptions hold.
func (b *bench) heapProfile(ctx context.Context, name string) {
	if b.pprofAddr == "" || b.opts.profileDir == "" {
		return
	}
	path, err := b.fetchProfile(ctx, name, "heap?gc=1", 0, "-sample_index=inuse_space")
	if err != nil {
		b.report.note("heap profile %s: %v", name, err)
		return
	}
	b.logf("heap profile %s: %s", name, path)
}

func (b *bench) captureProfile(ctx context.Context, name string, dur time.Duration) (string, error) {
	secs := max(1, int(dur.Round(time.Second)/time.Second))
	return b.fetchProfile(ctx, name, fmt.Sprintf("profile?seconds=%d", secs), time.Duration(secs)*time.Second)
}

// fetchProfile gets /debug/pprof/<what>, which takes about dur, into the
// profile folder with its pprof -top summary.
func (b *bench) fetchProfile(ctx context.Context, name, what string, dur time.Duration, topFlags ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, dur+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/%s", b.pprofAddr, what), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("pprof answered %s", resp.Status)
	}
	if err := os.MkdirAll(b.opts.profileDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(b.opts.profileDir, name+".pprof")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	args := append([]string{"tool", "pprof", "-top", "-nodecount=40"}, topFlags...)
	if b.binary != "" {
		args = append(args, b.binary)
	}
	top, err := exec.CommandContext(ctx, "go", append(args, path)...).Output()
	if err == nil {
		err = os.WriteFile(filepath.Join(b.opts.profileDir, name+".txt"), top, 0o644)
	}
	return path, err
}

// collectGarbage has the server run a garbage collection (through pprof's
// heap?gc=1), so memory figures count what is live, not garbage not yet
// collected; it does nothing without a pprof address.
func (b *bench) collectGarbage(ctx context.Context) {
	if b.pprofAddr == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/heap?gc=1", b.pprofAddr), nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.report.note("garbage collection before a memory figure: %v", err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
