package gateway

import (
	"context"
	"errors"
	"fmt"

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
)

// StatusOf translates the gateway's errors to gRPC status errors. Errors that
// already carry a status and context errors pass through unchanged.
func StatusOf(err error) error {
	if err == nil {
		return nil
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
	}
	return status.Error(code, err.Error())
}
