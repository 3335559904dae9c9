package gateway

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openCommitDB(tb testing.TB) *bolt.DB {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(tb.TempDir(), "c.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		tb.Fatal(err)
	}
	return db
}

// queued waits until n calls wait for the next commit.
func queued(tb testing.TB, c *Committer, n int) {
	tb.Helper()
	for range 10000 {
		c.mu.Lock()
		got := len(c.queue)
		c.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	tb.Fatalf("calls queued never reached %d", n)
}

// Calls that arrive while a commit is under way share the next one, and
// each returns only once its transaction committed.
func TestCommitterGroupsConcurrentCalls(t *testing.T) {
	db := openCommitDB(t)
	c := NewCommitter(db)
	const n = 50
	release := make(chan struct{})
	var first error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		first = c.Update(func(tx *bolt.Tx) error {
			<-release // holds the commit open while the others queue
			return tx.Bucket([]byte("b")).Put([]byte("first"), []byte("x"))
		})
	}()
	for { // the first call is leading once the queue is empty and a leader exists
		c.mu.Lock()
		leading := c.leading && len(c.queue) == 0
		c.mu.Unlock()
		if leading {
			break
		}
		time.Sleep(time.Millisecond)
	}
	txIDs := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Update(func(tx *bolt.Tx) error {
				txIDs[i] = tx.ID()
				return tx.Bucket([]byte("b")).Put(fmt.Appendf(nil, "k%02d", i), []byte("v"))
			})
		}()
	}
	queued(t, c, n)
	close(release)
	wg.Wait()
	if first != nil {
		t.Fatalf("first call: %v", first)
	}
	ids := map[int]bool{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
		ids[txIDs[i]] = true
	}
	if len(ids) != 1 {
		t.Errorf("the %d queued calls ran in %d transactions, want 1", n, len(ids))
	}
	db.View(func(tx *bolt.Tx) error {
		if got := tx.Bucket([]byte("b")).Stats().KeyN; got != n+1 {
			t.Errorf("keys = %d, want %d", got, n+1)
		}
		return nil
	})
}

// A function that fails gets its own error and leaves nothing; the others
// of its group run again without it and commit once each; OnCommit hooks
// run once, for committed functions only.
func TestCommitterIsolatesFailure(t *testing.T) {
	errBusiness := errors.New("refused")
	tests := []struct {
		name  string
		fail  func(tx *bolt.Tx) error
		check func(t *testing.T, err error, panicked any)
	}{
		{"error", func(tx *bolt.Tx) error {
			if err := tx.Bucket([]byte("b")).Put([]byte("bad"), []byte("x")); err != nil {
				return err
			}
			return errBusiness
		}, func(t *testing.T, err error, p any) {
			if !errors.Is(err, errBusiness) || p != nil {
				t.Errorf("failing call: err %v, panic %v; want %v", err, p, errBusiness)
			}
		}},
		{"panic", func(tx *bolt.Tx) error {
			tx.Bucket([]byte("b")).Put([]byte("bad"), []byte("x"))
			panic("boom")
		}, func(t *testing.T, err error, p any) {
			if p != "boom" {
				t.Errorf("failing call: err %v, panic %v; want the panic in the caller's goroutine", err, p)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openCommitDB(t)
			c := NewCommitter(db)
			release := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Update(func(tx *bolt.Tx) error { <-release; return nil })
			}()
			for {
				c.mu.Lock()
				ok := c.leading
				c.mu.Unlock()
				if ok {
					break
				}
				time.Sleep(time.Millisecond)
			}
			const n = 10
			var mu sync.Mutex
			runs, hooks := map[int]int{}, map[int]int{}
			errs := make([]error, n)
			var failErr error
			var panicked any
			for i := range n {
				if i == n/2 {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = c.Update(func(tx *bolt.Tx) error {
						mu.Lock()
						runs[i]++
						mu.Unlock()
						tx.OnCommit(func() { mu.Lock(); hooks[i]++; mu.Unlock() })
						return tx.Bucket([]byte("b")).Put(fmt.Appendf(nil, "k%02d", i), []byte("v"))
					})
				}()
			}
			queued(t, c, n-1)
			wg.Add(1)
			go func() { // queued last, so the others have run when it fails
				defer wg.Done()
				defer func() { panicked = recover() }()
				failErr = c.Update(tt.fail)
			}()
			queued(t, c, n)
			close(release)
			wg.Wait()
			tt.check(t, failErr, panicked)
			db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("b"))
				if b.Get([]byte("bad")) != nil {
					t.Errorf("the failed function's write was committed")
				}
				for i := range n {
					if i == n/2 {
						continue
					}
					if errs[i] != nil {
						t.Errorf("call %d: %v, want nil", i, errs[i])
					}
					if b.Get(fmt.Appendf(nil, "k%02d", i)) == nil {
						t.Errorf("call %d: its write is missing", i)
					}
					if hooks[i] != 1 {
						t.Errorf("call %d: OnCommit ran %d times, want 1", i, hooks[i])
					}
				}
				return nil
			})
			var again int
			for _, r := range runs {
				if r > 1 {
					again++
				}
			}
			if again == 0 {
				t.Errorf("no function ran twice: the failure did not share a transaction with the others (runs %v)", runs)
			}
		})
	}
}

// An idle committer commits at once: a lone call does not wait for others.
func TestCommitterLoneCall(t *testing.T) {
	db := openCommitDB(t)
	c := NewCommitter(db)
	for i := range 3 {
		if err := c.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte{byte(i)}, nil) }); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leading || len(c.queue) != 0 {
		t.Errorf("after the calls: leading %v, queue %d; want idle", c.leading, len(c.queue))
	}
}

// What runs at the end of a group runs once, after its functions, in
// their transaction; when it fails (or panics) the group fails as one and
// leaves nothing, and the committer goes on.
func TestCommitterAtEnd(t *testing.T) {
	tests := []struct {
		name    string
		atEnd   func(tx *bolt.Tx) error
		wantErr bool
	}{
		{"writes", func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte("end"), []byte("x")) }, false},
		{"fails", func(tx *bolt.Tx) error { return errors.New("no") }, true},
		{"panics", func(tx *bolt.Tx) error { panic("boom") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openCommitDB(t)
			c := NewCommitter(db)
			var ends int
			err := c.Update(func(tx *bolt.Tx) error {
				if !c.AtEnd(tx, func(tx *bolt.Tx) error {
					ends++
					if tx.Bucket([]byte("b")).Get([]byte("fn")) == nil {
						return errors.New("ran before the group's function")
					}
					return tt.atEnd(tx)
				}) {
					return errors.New("AtEnd refused a group transaction")
				}
				return tx.Bucket([]byte("b")).Put([]byte("fn"), []byte("x"))
			})
			if (err != nil) != tt.wantErr || ends != 1 {
				t.Fatalf("Update = %v, at end ran %d times; want error %v, once", err, ends, tt.wantErr)
			}
			db.View(func(tx *bolt.Tx) error {
				if got := tx.Bucket([]byte("b")).Get([]byte("fn")) != nil; got == tt.wantErr {
					t.Errorf("the function's write committed: %v, want %v", got, !tt.wantErr)
				}
				return nil
			})
			if err := c.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte("after"), nil) }); err != nil {
				t.Errorf("the next call: %v", err)
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				if c.AtEnd(tx, func(*bolt.Tx) error { return nil }) {
					return errors.New("AtEnd took a transaction of the caller's own")
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
}
