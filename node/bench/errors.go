package bench

import "errors"

var (
	// ErrNoProc is returned when a process's /proc files cannot be read:
	// it has exited, or this is not Linux.
	ErrNoProc = errors.New("no /proc entry")
	// ErrProcFormat is returned when a /proc file is not laid out as Linux
	// documents it (proc(5)).
	ErrProcFormat = errors.New("unexpected /proc format")
	// ErrMetricsFormat is returned when a /metrics line is not in the
	// Prometheus text format.
	ErrMetricsFormat = errors.New("unexpected metrics format")
	// ErrCasesFailed is returned when a bench case ends other than
	// completed at the destination and closed at the origin.
	ErrCasesFailed = errors.New("cases did not complete")
	// ErrTimeout is returned when cases are still open when the bench's
	// time is up.
	ErrTimeout = errors.New("timed out")
	// ErrNodeExited is returned when a node or the registry stops while
	// the bench runs.
	ErrNodeExited = errors.New("process exited")
)
