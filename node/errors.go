package node

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"jiexu/gateway"
	"jiexu/node/rules"
	"jiexu/node/transfer"
)

var (
	// ErrNotFound is returned when an enrolment, case or certificate does not exist.
	ErrNotFound = errors.New("not found")
	// ErrSelfTransfer is returned when the other party of an application routes to this node itself.
	ErrSelfTransfer = errors.New("the other party is served by this node itself")
	// ErrMismatch is returned when a received certificate, remittance or notice does not fit its case.
	ErrMismatch = errors.New("message does not match its case")
	// ErrUnknownCase is returned for a message about a case this node does not hold.
	ErrUnknownCase = errors.New("no such case here")
	// ErrNotShared is returned when a peer sends a message about a case it
	// does not share with this node, or opens a case under another region's id.
	ErrNotShared = errors.New("case is not shared with the sender")
)

// ValidationError lists every bad field of an input. Refused is set when
// the input is well formed but what the node holds refuses it (a record of
// a transferred-out period): the code is then FailedPrecondition.
type ValidationError struct {
	Violations []*errdetails.BadRequest_FieldViolation
	Refused    bool
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.GetField() + ": " + v.GetDescription()
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// violations collects field violations.
type violations struct {
	list []*errdetails.BadRequest_FieldViolation
}

// maxDescription bounds a violation's description: whatever of the input
// it quotes is clipped (rules.Clip).
const maxDescription = 300

func (v *violations) add(field, format string, args ...any) {
	v.list = append(v.list, &errdetails.BadRequest_FieldViolation{Field: field, Description: rules.Clip(fmt.Sprintf(format, args...), maxDescription)})
}

func (v *violations) err() error {
	if len(v.list) == 0 {
		return nil
	}
	return &ValidationError{Violations: v.list}
}

// toStatus translates the node's errors to gRPC status errors, once, at the
// service boundary. Validation errors carry a BadRequest with one field
// violation per bad field.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		code := codes.InvalidArgument
		if ve.Refused {
			code = codes.FailedPrecondition
		}
		st := status.New(code, ve.Error())
		if d, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: ve.Violations}); derr == nil {
			st = d
		}
		return st.Err()
	}
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnknownCase):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrNotShared):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, transfer.ErrCaseOpen):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, transfer.ErrRetry):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, ErrSelfTransfer), errors.Is(err, ErrMismatch), errors.Is(err, errRefused),
		errors.Is(err, transfer.ErrNotEnrolledHere), errors.Is(err, transfer.ErrNameMismatch),
		errors.Is(err, transfer.ErrTooLate), errors.Is(err, transfer.ErrUnexpected), errors.Is(err, transfer.ErrWrongSide):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return gateway.StatusOf(err)
}
