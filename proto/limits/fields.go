package limits

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Defaults for a field without a (jiexu.v1.limits) option, and the bound on
// the unknown fields of one message (a newer peer's additions).
const (
	DefaultMaxStringBytes = 1024
	DefaultMaxBytes       = 64 << 10
	DefaultMaxItems       = 1000
	MaxUnknownBytes       = 4096
)

// maxViolations bounds how many bad fields one error lists.
const maxViolations = 20

// FieldError lists the fields of a message that exceed their limits. It
// converts to InvalidArgument with a BadRequest detail.
type FieldError struct {
	Violations []*errdetails.BadRequest_FieldViolation
}

func (e *FieldError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.GetField() + ": " + v.GetDescription()
	}
	return "request too large: " + strings.Join(parts, "; ")
}

// GRPCStatus makes a FieldError InvalidArgument with one field violation per field.
func (e *FieldError) GRPCStatus() *status.Status {
	st := status.New(codes.InvalidArgument, e.Error())
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: e.Violations}); err == nil {
		return d
	}
	return st
}

// bound is one field's limits, defaults filled in.
type bound struct {
	runes, bytes, items int
}

var bounds sync.Map // protoreflect.FullName of a field → bound

func boundOf(fd protoreflect.FieldDescriptor) bound {
	if b, ok := bounds.Load(fd.FullName()); ok {
		return b.(bound)
	}
	b := bound{items: DefaultMaxItems}
	switch fd.Kind() {
	case protoreflect.StringKind:
		b.bytes = DefaultMaxStringBytes
	case protoreflect.BytesKind:
		b.bytes = DefaultMaxBytes
	}
	if opts := fd.Options(); opts != nil && proto.HasExtension(opts, jiexuv1.E_Limits) {
		l := proto.GetExtension(opts, jiexuv1.E_Limits).(*jiexuv1.FieldLimits)
		if l.GetMaxBytes() > 0 {
			b.bytes = int(l.GetMaxBytes())
		}
		if l.GetMaxRunes() > 0 {
			b.runes = int(l.GetMaxRunes())
		}
		if l.GetMaxItems() > 0 {
			b.items = int(l.GetMaxItems())
		}
	}
	bounds.Store(fd.FullName(), b)
	return b
}

// Check walks a message and every message inside it and reports the fields
// beyond their limits; nil when there are none.
func Check(m proto.Message) error {
	if m == nil {
		return nil
	}
	var c checker
	c.message("", m.ProtoReflect())
	if len(c.vs) == 0 {
		return nil
	}
	return &FieldError{Violations: c.vs}
}

type checker struct {
	vs []*errdetails.BadRequest_FieldViolation
}

func (c *checker) add(field, format string, args ...any) {
	if len(c.vs) < maxViolations {
		c.vs = append(c.vs, &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
	}
}

func join(prefix string, name protoreflect.Name) string {
	if prefix == "" {
		return string(name)
	}
	return prefix + "." + string(name)
}

func (c *checker) message(path string, m protoreflect.Message) {
	if len(c.vs) >= maxViolations {
		return
	}
	if n := len(m.GetUnknown()); n > MaxUnknownBytes {
		field := path
		if field == "" {
			field = "(message)"
		}
		c.add(field, "%d bytes of unknown fields, at most %d", n, MaxUnknownBytes)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := join(path, fd.Name())
		b := boundOf(fd)
		switch {
		case fd.IsList():
			l := v.List()
			if l.Len() > b.items {
				c.add(name, "%d entries, at most %d", l.Len(), b.items)
				return len(c.vs) < maxViolations
			}
			for i := 0; i < l.Len(); i++ {
				c.value(fmt.Sprintf("%s[%d]", name, i), fd, b, l.Get(i))
			}
		case fd.IsMap():
			mp := v.Map()
			if mp.Len() > b.items {
				c.add(name, "%d entries, at most %d", mp.Len(), b.items)
				return len(c.vs) < maxViolations
			}
			mp.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				key := fmt.Sprintf("%s[%v]", name, k.Interface())
				if s, ok := k.Interface().(string); ok { // never echo a string from the request
					key = fmt.Sprintf("%s[a key of %d bytes]", name, len(s))
					c.text(key, boundOf(fd.MapKey()), s)
				}
				c.value(key, fd.MapValue(), boundOf(fd.MapValue()), mv)
				return len(c.vs) < maxViolations
			})
		default:
			c.value(name, fd, b, v)
		}
		return len(c.vs) < maxViolations
	})
}

func (c *checker) value(name string, fd protoreflect.FieldDescriptor, b bound, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		c.text(name, b, v.String())
	case protoreflect.BytesKind:
		if n := len(v.Bytes()); n > b.bytes {
			c.add(name, "%d bytes, at most %d", n, b.bytes)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		c.message(name, v.Message())
	}
}

func (c *checker) text(name string, b bound, s string) {
	if len(s) > b.bytes {
		c.add(name, "%d bytes, at most %d", len(s), b.bytes)
		return
	}
	if b.runes > 0 {
		if n := utf8.RuneCountInString(s); n > b.runes {
			c.add(name, "%d characters, at most %d", n, b.runes)
		}
	}
}
