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
)

var (
	// ErrNotFound is returned when a record, case or certificate does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotEnrolledHere is returned when a transfer is applied for a person without an active enrolment here.
	ErrNotEnrolledHere = errors.New("person has no active enrolment at this node")
	// ErrCaseOpen is returned when a person already has an open transfer case.
	ErrCaseOpen = errors.New("person already has an open transfer case")
	// ErrSelfTransfer is returned when the origin routes to this node itself.
	ErrSelfTransfer = errors.New("origin is served by this node itself")
	// ErrMismatch is returned when a received certificate or remittance does not fit its case.
	ErrMismatch = errors.New("message does not match its case")
)

// ValidationError lists every bad field of an input.
type ValidationError struct {
	Violations []*errdetails.BadRequest_FieldViolation
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

func (v *violations) add(field, format string, args ...any) {
	v.list = append(v.list, &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
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
		st := status.New(codes.InvalidArgument, ve.Error())
		if d, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: ve.Violations}); derr == nil {
			st = d
		}
		return st.Err()
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrNotEnrolledHere), errors.Is(err, ErrSelfTransfer), errors.Is(err, ErrMismatch):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, ErrCaseOpen):
		return status.Error(codes.AlreadyExists, err.Error())
	}
	return gateway.StatusOf(err)
}
