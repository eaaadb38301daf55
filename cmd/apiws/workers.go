package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// worker is one part of the running server that works in the background:
// run works until ctx ends, then finishes what it holds and returns. A
// worker that returns before ctx ends, with an error or not, stops the
// server.
type worker struct {
	name string
	run  func(ctx context.Context) error
}

// runWorkers runs every worker of every stage until ctx ends or a worker
// stops, then stops the stages in order: the first stage's workers are told
// to stop and waited for, then the second's, and so on. So a stage may rely
// on every later one while it finishes (the HTTP server stops first, the
// flushers of what it recorded last). runWorkers returns once every worker
// has returned, with the first failure.
func runWorkers(ctx context.Context, stages ...[]worker) error {
	var g errgroup.Group
	stopped := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(stopped) }) }

	cancels := make([]context.CancelFunc, len(stages))
	running := make([]sync.WaitGroup, len(stages))
	for i, stage := range stages {
		stageCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cancels[i] = cancel
		for _, w := range stage {
			running[i].Add(1)
			g.Go(func() error {
				defer running[i].Done()
				err := w.run(stageCtx)
				if stageCtx.Err() != nil {
					if errors.Is(err, context.Canceled) {
						return nil // it was told to stop, and did
					}
					return err
				}
				stop()
				if err == nil {
					err = errors.New("stopped on its own")
				}
				return fmt.Errorf("%s: %w", w.name, err)
			})
		}
	}
	select {
	case <-ctx.Done():
	case <-stopped:
	}
	for i := range stages {
		cancels[i]()
		running[i].Wait()
	}
	return g.Wait()
}

// httpWorker serves hs on ln. When ctx ends, it calls beforeShutdown (which
// ends the requests that would not end by themselves, such as
// subscriptions), then lets the requests in flight finish for at most grace
// (0: none, the connections are closed at once).
func httpWorker(name string, hs *http.Server, ln net.Listener, grace time.Duration, beforeShutdown func()) worker {
	return worker{name: name, run: func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- hs.Serve(ln) }()
		select {
		case err := <-served:
			return err
		case <-ctx.Done():
		}
		if beforeShutdown != nil {
			beforeShutdown()
		}
		var err error
		if grace > 0 {
			shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			err = hs.Shutdown(shutdownCtx)
		} else {
			err = hs.Close()
		}
		if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
			err = serveErr
		}
		return err
	}}
}
