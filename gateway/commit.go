package gateway

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// Group commit. bbolt serialises writers and every commit costs two
// fdatasyncs, so a node whose requests each commit alone spends its time
// waiting on the disk. A Committer runs the functions of concurrent callers
// in one read-write transaction and one commit: whoever finds no commit
// under way leads, takes every function queued so far, runs them in order,
// commits and wakes their callers; functions that arrive meanwhile wait for
// the next commit, which the leader starts before it returns. Unlike
// bolt.DB.Batch there is no timer: an idle node commits at once, and a busy
// one commits as often as the disk allows, each commit carrying whatever
// queued during the last.
//
// The contract is Batch's: a function may run more than once (when another
// function of its group fails, the transaction is rolled back and the group
// runs again without it), so it must only touch tx, register what must
// happen after the commit with tx.OnCommit, and publish results only after
// Update returns. A function that fails, or panics, runs again alone in its
// caller's goroutine, whose Update returns its error (or panics there).

// maxGroup bounds the functions one commit carries (bbolt's MaxBatchSize).
const maxGroup = 1000

// errTrySolo tells a caller to run its function again alone.
var errTrySolo = errors.New("gateway: group commit: run alone")

// Committer group-commits read-write transactions on one store.
type Committer struct {
	db *bolt.DB

	mu      sync.Mutex // guards queue and leading
	queue   []*commitCall
	leading bool

	// cur is the group transaction running now, and atEnd what runs in it
	// after the group's functions (AtEnd); only the leader's goroutine, inside
	// that transaction, reads or writes atEnd.
	cur   atomic.Pointer[bolt.Tx]
	atEnd []func(*bolt.Tx) error
}

type commitCall struct {
	fn   func(*bolt.Tx) error
	err  error
	done chan struct{}
}

// NewCommitter returns a Committer for db.
func NewCommitter(db *bolt.DB) *Committer { return &Committer{db: db} }

// Update runs fn in a read-write transaction shared with concurrent
// callers and returns once that transaction has committed (or fn's error).
// See Committer for what fn may do.
func (c *Committer) Update(fn func(*bolt.Tx) error) error {
	call := &commitCall{fn: fn, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, call)
	lead := !c.leading
	c.leading = true
	c.mu.Unlock()
	if lead {
		c.lead(call)
	}
	<-call.done
	if call.err == errTrySolo {
		return c.db.Update(fn)
	}
	return call.err
}

// lead commits groups until the leader's own call is done, then hands what
// queued meanwhile to a goroutine that leads until the queue is empty (own
// nil), so that no caller waits on more than the commits its call needs.
func (c *Committer) lead(own *commitCall) {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.leading = false
			c.mu.Unlock()
			return
		}
		n := min(len(c.queue), maxGroup)
		group := c.queue[:n:n]
		c.queue = c.queue[n:]
		if len(c.queue) == 0 {
			c.queue = nil // let the array go, and the calls it holds
		}
		c.mu.Unlock()

		c.commit(group)
		if own == nil {
			continue
		}
		select {
		case <-own.done:
			c.mu.Lock()
			more := len(c.queue) > 0
			if !more {
				c.leading = false
			}
			c.mu.Unlock()
			if more {
				go c.lead(nil)
			}
			return
		default:
		}
	}
}

// commit runs a group in one transaction. A function that fails is taken
// out and told to run alone, and the rest run again.
func (c *Committer) commit(group []*commitCall) {
	for len(group) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			c.cur.Store(tx)
			c.atEnd = c.atEnd[:0]
			defer func() { c.cur.Store(nil); c.atEnd = c.atEnd[:0] }()
			for i, call := range group {
				if err := safeRun(call.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			for _, fn := range c.atEnd { // a failure here is the group's
				if err := safeRun(fn, tx); err != nil {
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			// Committed, or the commit itself failed (the disk): the same
			// answer for every function of the group.
			for _, call := range group {
				call.err = err
				close(call.done)
			}
			return
		}
		group[failed].err = errTrySolo
		close(group[failed].done)
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

// AtEnd arranges for fn to run in tx after every function of its group,
// before the commit, and reports true; when tx is not a group transaction
// of c (a caller's own db.Update, or a function run again alone) it does
// nothing and reports false, and the caller does the work itself. fn runs
// once per attempt of the group: a group that runs again calls AtEnd again.
// An error from fn fails the whole group.
func (c *Committer) AtEnd(tx *bolt.Tx, fn func(*bolt.Tx) error) bool {
	if tx == nil || c.cur.Load() != tx {
		return false
	}
	c.atEnd = append(c.atEnd, fn)
	return true
}

// safeRun runs fn, turning a panic into an error (the caller then runs fn
// again alone, where the panic happens in its own goroutine).
func safeRun(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(tx)
}
