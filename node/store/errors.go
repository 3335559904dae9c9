package store

import (
	"errors"
	"strings"
)

var (
	// ErrEmpty is returned for a store file of 0 bytes.
	ErrEmpty = errors.New("the store file is empty")
	// ErrTruncated is returned for a store file shorter than its own pages say.
	ErrTruncated = errors.New("the store file is truncated")
	// ErrBadHeader is returned when the store's meta pages (its header) are damaged.
	ErrBadHeader = errors.New("the store file's header is damaged")
	// ErrDamaged is returned when the store's page tree is damaged.
	ErrDamaged = errors.New("the store file is damaged")
	// ErrLocked is returned when another process holds the store's lock.
	ErrLocked = errors.New("another process holds the store's lock")
	// ErrReadOnly is returned when data_dir is on a read-only filesystem.
	ErrReadOnly = errors.New("the store's filesystem is read-only")
	// ErrNoSpace is returned when data_dir's disk is full.
	ErrNoSpace = errors.New("the store's disk is full")
	// ErrPermission is returned when this process may not write data_dir or the store.
	ErrPermission = errors.New("the store is not writable by this process")
	// ErrMissing is returned when the store file is gone but its sidecar says the node had one.
	ErrMissing = errors.New("the store file is missing")
	// ErrBehind is returned when the store is older than what the node had
	// committed: a copy or backup put in its place.
	ErrBehind = errors.New("the store is older than the node's last committed state")
	// ErrIsBackup is returned when the store is a backup written by 'jiexu node backup'.
	ErrIsBackup = errors.New("the store is a backup")
	// ErrNotThisStore is returned when the store is not the one the sidecar names.
	ErrNotThisStore = errors.New("the store is not the one this node created")
	// ErrNoSidecar is returned when a store with an identity has no sidecar beside it.
	ErrNoSidecar = errors.New("the store's sidecar is missing")
	// ErrSidecar is returned when the sidecar cannot be read or written.
	ErrSidecar = errors.New("the store's sidecar is unusable")
)

// RefusedError is a store a node will not open, with what to do about it.
type RefusedError struct {
	// Problem is what is wrong, Do what the operator should do.
	Problem, Do string
	err         error
}

func (e *RefusedError) Error() string {
	return e.Problem + "\n  what to do: " + strings.ReplaceAll(e.Do, "\n", "\n    ")
}

// Unwrap returns the sentinel (and cause) the refusal wraps.
func (e *RefusedError) Unwrap() error { return e.err }

func refuse(err error, problem, do string) error {
	return &RefusedError{Problem: problem, Do: do, err: err}
}

// Refuse returns a RefusedError wrapping err (a sentinel of this package,
// say), for a caller that finds more wrong with a store than Open does.
func Refuse(err error, problem, do string) error { return refuse(err, problem, do) }
