package node

import (
	"context"
	"log/slog"
	"os"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"jiexu/node/rules"
)

// checkChars adds a violation when a name or free text carries what
// rules.CheckText refuses.
func checkChars(vs *violations, field, s string) {
	if err := rules.CheckText(s); err != nil {
		vs.add(field, "%v", err)
	}
}

// normalizeStrings puts every string of an agency request in the form the
// node stores (rules.NormalizeText: NFC, trimmed), in place, before it is
// validated. Inter-node requests are never changed: their seal covers them
// as sent.
func normalizeStrings(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				switch fd.Kind() {
				case protoreflect.StringKind:
					l.Set(i, protoreflect.ValueOfString(rules.NormalizeText(l.Get(i).String())))
				case protoreflect.MessageKind, protoreflect.GroupKind:
					normalizeStrings(l.Get(i).Message())
				}
			}
		case fd.IsMap():
			// The contract has no maps of text.
		case fd.Kind() == protoreflect.StringKind:
			if s := v.String(); s != rules.NormalizeText(s) {
				m.Set(fd, protoreflect.ValueOfString(rules.NormalizeText(s)))
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			normalizeStrings(v.Message())
		}
		return true
	})
}

// normalizeRequest normalises an agency request's strings, if it is a message.
func normalizeRequest(req any) {
	if m, ok := req.(proto.Message); ok && m != nil {
		normalizeStrings(m.ProtoReflect())
	}
}

// maxLogValue bounds every string a log line carries: an error quoting a
// request, a value from a peer.
const maxLogValue = 512

// clipHandler bounds the text of every log record (rules.Clip): its
// message and each string or error attribute.
type clipHandler struct{ slog.Handler }

// ClipLogs wraps a handler so that no log line echoes more than 512 bytes of
// any one value.
func ClipLogs(h slog.Handler) slog.Handler {
	if _, ok := h.(clipHandler); ok {
		return h
	}
	return clipHandler{h}
}

func (h clipHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, rules.Clip(r.Message, maxLogValue), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(clipAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func clipAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, rules.Clip(v.String(), maxLogValue))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = clipAttr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, rules.Clip(err.Error(), maxLogValue))
		}
		if s, ok := v.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, rules.Clip(s.String(), maxLogValue))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h clipHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clipped := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clipped[i] = clipAttr(a)
	}
	return clipHandler{h.Handler.WithAttrs(clipped)}
}

func (h clipHandler) WithGroup(name string) slog.Handler {
	return clipHandler{h.Handler.WithGroup(name)}
}

// WritePrivate writes a file that holds personal data (an exported
// certificate, its printable page, an audit export) readable by its owner
// only, whether it is new or replaces one.
func WritePrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // an existing file keeps its mode otherwise
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
