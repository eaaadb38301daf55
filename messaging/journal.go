package messaging

import (
	"context"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// journal commits the event-writing work of this process in groups (group
// commit): sends, acceptances and receipts that arrive while a transaction
// is committing go together into the next one. Under load a transaction
// carries many of them, at the price of one commit and one counter bump per
// account; alone, a write commits at once.
//
// Work is sharded by account, one committer per shard: the transactions of
// one account never wait on each other's locks (its event counter, its
// messages), and accounts on different shards commit in parallel. Each
// shard publishes its commits' events in cursor order.
type journal struct {
	db     *storage.DB
	ctx    context.Context // not cancelled: a write that was accepted completes
	shards []chan *journalReq
	// mu guards closed and started; senders hold it shared while they
	// enqueue, so close can close the shards once none is in the middle of
	// it.
	mu      sync.RWMutex
	closed  bool
	start   sync.Once // the committers start with the first write
	started bool
	done    chan struct{}
	// committed sees each commit's events before its writers are answered.
	committed func([]*apiws.LogEvent)
	// published receives each commit's events, in commit order, from a
	// goroutine of its own: a slow broker does not hold up the commits.
	published func([]*apiws.LogEvent)
	pub       chan []*apiws.LogEvent
	pubDone   chan struct{}

	// What the journal committed, for its metrics: transactions, the
	// writes they carried, nanoseconds spent committing (summed over the
	// committers).
	commits, writes, busy atomic.Int64
}

// journalReq is one caller's part of a batch.
type journalReq struct {
	account string // the shard key
	queue   []*storage.QueueWrite
	sent    *storage.SentWrite
	receipt *storage.ReceiptWrite
	err     chan error
}

// maxJournalBatch bounds the work of one transaction: requests and the
// messages they queue (a request of many queues them all, however many).
// Under bulk sends a transaction is full, the rest waiting: at 256, two
// requests of 100 and some receipts made a transaction; at 1024 a
// transaction carries about three times the writes, and the same work
// takes fewer commits (BENCHMARKS.md, "Journal batches of 1024").
const maxJournalBatch = 1024

// size is the work of r for maxJournalBatch.
func (r *journalReq) size() int { return max(len(r.queue), 1) }

// newJournal returns a journal with shards committers, which start with
// its first write.
func newJournal(ctx context.Context, db *storage.DB, shards int, committed, published func([]*apiws.LogEvent)) *journal {
	j := &journal{db: db, ctx: context.WithoutCancel(ctx), shards: make([]chan *journalReq, max(shards, 1)),
		done: make(chan struct{}), committed: committed, published: published, pub: make(chan []*apiws.LogEvent, 1024), pubDone: make(chan struct{})}
	for i := range j.shards {
		j.shards[i] = make(chan *journalReq, maxJournalBatch)
	}
	return j
}

// startCommitters starts the committers and the publisher. It runs once,
// with mu held shared.
func (j *journal) startCommitters() {
	j.started = true
	var wg sync.WaitGroup
	for _, reqs := range j.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.run(reqs)
		}()
	}
	go func() {
		wg.Wait()
		close(j.done)
	}()
	go func() {
		defer close(j.pubDone)
		for evs := range j.pub {
			j.published(evs)
		}
	}()
}

// shard returns the committer of an account.
func (j *journal) shard(account string) chan *journalReq {
	h := fnv.New32a()
	_, _ = h.Write([]byte(account))
	return j.shards[h.Sum32()%uint32(len(j.shards))]
}

// write commits r with whatever else is waiting and returns once it is
// committed (or failed). After close it commits r alone.
func (j *journal) write(r *journalReq) error {
	r.err = make(chan error, 1)
	j.mu.RLock()
	if j.closed {
		j.mu.RUnlock()
		j.published(j.commit([]*journalReq{r}))
	} else {
		j.start.Do(j.startCommitters)
		j.shard(r.account) <- r
		j.mu.RUnlock()
	}
	return <-r.err
}

// close commits and publishes what is queued and stops the journal.
func (j *journal) close() {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	j.closed = true
	for _, reqs := range j.shards {
		close(reqs)
	}
	started := j.started
	j.mu.Unlock()
	if !started {
		return
	}
	<-j.done
	close(j.pub)
	<-j.pubDone
}

func (j *journal) run(reqs chan *journalReq) {
	for r := range reqs {
		// What came while the last transaction committed goes into this
		// one; nothing waits for more.
		batch, work := []*journalReq{r}, r.size()
	gather:
		for work < maxJournalBatch {
			select {
			case more, ok := <-reqs:
				if !ok {
					break gather
				}
				batch, work = append(batch, more), work+more.size()
			default:
				break gather
			}
		}
		start := time.Now()
		evs := j.commit(batch)
		j.busy.Add(int64(time.Since(start)))
		j.commits.Add(1)
		j.writes.Add(int64(len(batch)))
		if len(evs) > 0 {
			j.pub <- evs
		}
	}
}

// commit writes a batch in one transaction and returns its events. If that
// fails, each write is tried alone, so one bad write (or a deadlock victim)
// does not fail the others.
func (j *journal) commit(batch []*journalReq) []*apiws.LogEvent {
	b := &storage.Batch{}
	for _, r := range batch {
		switch {
		case r.queue != nil:
			b.Queue = append(b.Queue, r.queue...)
		case r.sent != nil:
			b.Sent = append(b.Sent, r.sent)
		case r.receipt != nil:
			b.Receipts = append(b.Receipts, r.receipt)
		}
	}
	evs, err := j.db.Write(j.ctx, b)
	if err != nil && len(batch) > 1 {
		evs = nil
		for _, r := range batch {
			evs = append(evs, j.commit([]*journalReq{r})...)
		}
		return evs
	}
	if err == nil {
		j.committed(evs)
	}
	for _, r := range batch {
		r.err <- err
	}
	return evs
}
