package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"syscall"

	bolterrors "go.etcd.io/bbolt/errors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"jiexu/certs"
	"jiexu/registry"
)

var (
	// ErrBadHeader is returned when a message's header is missing a field or malformed.
	ErrBadHeader = errors.New("bad message header")
	// ErrWrongSender is returned when a message claims a sender other than the caller's certificate region.
	ErrWrongSender = errors.New("message sender does not match the caller's certificate")
	// ErrWrongReceiver is returned when a message is addressed to another region.
	ErrWrongReceiver = errors.New("message addressed to another region")
	// ErrBadMessageSeal is returned when a message's seal is missing or does not verify.
	ErrBadMessageSeal = errors.New("message seal invalid")
	// ErrUnregistered is returned when the caller's region has no node in the registry.
	ErrUnregistered = errors.New("caller's region is not registered")
	// ErrCertificateNotListed is returned when a registered region presents a
	// certificate the registry does not pin (typically a renewed one not yet
	// added with 'jiexu registry add --cert'). It is an ErrUnregistered.
	ErrCertificateNotListed = fmt.Errorf("%w: certificate not listed", ErrUnregistered)
	// ErrNoSnapshot is returned while the node holds no registry snapshot.
	ErrNoSnapshot = errors.New("no registry snapshot yet")
	// ErrNotFound is returned when an outbox message does not exist.
	ErrNotFound = errors.New("no such outbox message")
	// ErrBadReceipt is returned when a peer's receipt is unsealed or does not fit the message sent.
	ErrBadReceipt = errors.New("receipt invalid")
	// ErrAuditTampered is returned when the audit chain or an export does not verify.
	ErrAuditTampered = errors.New("audit chain does not verify")
	// ErrNoAuditEntries is returned when the audit chain holds nothing of a case.
	ErrNoAuditEntries = errors.New("no audit entries for this case")
	// ErrAckFailed is recorded on a dead letter whose peer acknowledged it
	// but whose acknowledgement this node could not apply.
	ErrAckFailed = errors.New("acknowledged, but applying the acknowledgement failed")
)

// IOFault names the kind of storage failure err is, or "" when it is not
// one: a full disk, a read-only filesystem, an I/O error, a file-size limit,
// a file this process may not write, or a store that is closed. Health
// reasons and the status peers see are built from it.
func IOFault(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ENOSPC):
		return "disk full"
	case errors.Is(err, syscall.EDQUOT):
		return "disk quota exceeded"
	case errors.Is(err, syscall.EROFS), errors.Is(err, bolterrors.ErrDatabaseReadOnly):
		return "read-only filesystem"
	case errors.Is(err, syscall.EIO):
		return "I/O error"
	case errors.Is(err, syscall.EFBIG):
		return "file size limit reached"
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return "store file not writable (permissions or an immutable attribute)"
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen), errors.Is(err, bolterrors.ErrTxClosed):
		return "store closed"
	}
	return ""
}

// localError is a failure whose detail stays on this node. gRPC sends its
// status (a code, a generic message and a reference); its Error, which the
// server's logging interceptor writes to the operator's log, carries the
// reference and the detail.
type localError struct {
	st  *status.Status
	ref string
	err error
}

func (e *localError) GRPCStatus() *status.Status { return e.st }
func (e *localError) Error() string {
	return fmt.Sprintf("%s (ref %s): %v", e.st.Code(), e.ref, e.err)
}
func (e *localError) Unwrap() error { return e.err }

func newRef() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// StatusOf translates the gateway's errors to gRPC status errors, once, at
// the service boundary. Errors that already carry a status and context
// errors pass through unchanged. An error with no code of its own is a
// local failure: its text may name this node's files and state, so the
// caller gets only a code and a generic message with a reference —
// Unavailable when the store cannot be written (the caller should retry
// later), Internal otherwise — and the detail goes to this node's log.
func StatusOf(err error) error {
	if err == nil {
		return nil
	}
	var le *localError
	if errors.As(err, &le) {
		return le // never wrapped: a wrapper's text would reach the caller
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, ErrBadHeader):
		code = codes.InvalidArgument
	case errors.Is(err, ErrWrongSender), errors.Is(err, ErrWrongReceiver), errors.Is(err, ErrUnregistered):
		code = codes.PermissionDenied
	case errors.Is(err, ErrBadMessageSeal), errors.Is(err, certs.ErrNoPeerCertificate),
		errors.Is(err, certs.ErrRevoked), errors.Is(err, certs.ErrNoRegion),
		errors.Is(err, certs.ErrUnknownCA), errors.Is(err, certs.ErrExpired):
		code = codes.Unauthenticated
	case errors.Is(err, ErrNoSnapshot):
		code = codes.Unavailable
	case errors.Is(err, registry.ErrUnserved), errors.Is(err, registry.ErrUnknownNode),
		errors.Is(err, registry.ErrUnknownDivision), errors.Is(err, ErrNotFound), errors.Is(err, ErrNoAuditEntries):
		code = codes.NotFound
	case errors.Is(err, registry.ErrMalformedCode), errors.Is(err, registry.ErrNotPlace):
		code = codes.InvalidArgument
	case errors.Is(err, registry.ErrSplitDivision):
		code = codes.FailedPrecondition
	default:
		ref := newRef()
		if fault := IOFault(err); fault != "" {
			msg := fmt.Sprintf("the node cannot use its store right now; retry later (ref %s)", ref)
			return &localError{st: status.New(codes.Unavailable, msg), ref: ref, err: err}
		}
		msg := fmt.Sprintf("internal error; the node's operator can find ref %s in its log", ref)
		return &localError{st: status.New(codes.Internal, msg), ref: ref, err: err}
	}
	return status.Error(code, err.Error())
}
