package limits_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/proto/limits"
)

func person() *jiexuv1.Person {
	return &jiexuv1.Person{Name: "额尔德尼·巴特尔", IdNumber: "150102199003071234", HouseholdPlace: "内蒙古自治区呼和浩特市新城区"}
}

func TestCheckFields(t *testing.T) {
	withUnknown := &jiexuv1.NotifyTransferRequest{Person: person()}
	withUnknown.ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, 99, protowire.BytesType), make([]byte, 5000)))
	tests := []struct {
		name  string
		msg   proto.Message
		field string // "" when it passes
	}{
		{"real data", &jiexuv1.NotifyTransferRequest{Person: person(), OriginDivision: "150102"}, ""},
		{"a 3.5 MB name", &jiexuv1.NotifyTransferRequest{Person: &jiexuv1.Person{Name: strings.Repeat("名", 1<<20)}}, "person.name"},
		{"51 characters of a name", &jiexuv1.NotifyTransferRequest{Person: &jiexuv1.Person{Name: strings.Repeat("名", 51)}}, "person.name"},
		{"a 50-character name", &jiexuv1.NotifyTransferRequest{Person: &jiexuv1.Person{Name: strings.Repeat("名", 50)}}, ""},
		{"a 19-byte ID number", &jiexuv1.RemitRequest{IdNumber: "1501021990030712345"}, ""}, // unannotated: the default
		{"the default for a string", &jiexuv1.RemitRequest{CertificateNumber: strings.Repeat("x", 1025)}, "certificate_number"},
		{"101 characters of a place", &jiexuv1.PutRecordRequest{Record: &jiexuv1.Record{Person: &jiexuv1.Person{HouseholdPlace: strings.Repeat("地", 101)}}}, "record.person.household_place"},
		{"a long header id", &jiexuv1.RejectTransferRequest{Header: &jiexuv1.MessageHeader{MessageId: strings.Repeat("m", 129)}}, "header.message_id"},
		{"a huge seal certificate", &jiexuv1.RejectTransferRequest{Seal: &jiexuv1.Seal{Certificate: make([]byte, 9000)}}, "seal.certificate"},
		{"a record deep in a list", &jiexuv1.ImportRecordsRequest{Records: []*jiexuv1.Record{{}, {Person: &jiexuv1.Person{IdNumber: strings.Repeat("1", 19)}}}}, "records[1].person.id_number"},
		{"too many redrives", &jiexuv1.RedriveOutboxRequest{Sequences: make([]uint64, 100001)}, "sequences"},
		{"too many fingerprints", &jiexuv1.Node{CertificateFingerprints: make([]string, 9)}, "certificate_fingerprints"},
		{"unknown fields", withUnknown, "(message)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := limits.Check(tt.msg)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var fe *limits.FieldError
			if !errors.As(err, &fe) || fe.Violations[0].GetField() != tt.field {
				t.Fatalf("Check = %v, want a violation of %s", err, tt.field)
			}
			if len(err.Error()) > 500 {
				t.Errorf("the error echoes the input: %d bytes", len(err.Error()))
			}
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || len(st.Details()) != 1 {
				t.Errorf("status = %v with %d details, want InvalidArgument with a BadRequest", st.Code(), len(st.Details()))
			}
		})
	}
}

// Every string, bytes, repeated and map field of every request message
// carries an explicit limit.
func TestOwnFilesAnnotateEveryField(t *testing.T) {
	files := []protoreflect.FileDescriptor{jiexuv1.File_jiexu_v1_types_proto, jiexuv1.File_jiexu_v1_registry_proto,
		jiexuv1.File_jiexu_v1_agency_proto, jiexuv1.File_jiexu_v1_transfer_proto, jiexuv1.File_jiexu_v1_certificate_proto,
		jiexuv1.File_jiexu_v1_audit_proto, jiexuv1.File_jiexu_v1_reconcile_proto}
	for _, fd := range files {
		var walk func(protoreflect.MessageDescriptors)
		walk = func(ms protoreflect.MessageDescriptors) {
			for i := 0; i < ms.Len(); i++ {
				md := ms.Get(i)
				if strings.HasSuffix(string(md.Name()), "Response") {
					continue // what a server sends is not checked on arrival
				}
				for j := 0; j < md.Fields().Len(); j++ {
					f := md.Fields().Get(j)
					bounded := f.IsList() || f.IsMap() || f.Kind() == protoreflect.StringKind || f.Kind() == protoreflect.BytesKind
					if bounded && !proto.HasExtension(f.Options(), jiexuv1.E_Limits) {
						t.Errorf("%s has no (jiexu.v1.limits)", f.FullName())
					}
				}
				walk(md.Messages())
			}
		}
		walk(fd.Messages())
	}
}

func TestLimiter(t *testing.T) {
	caller := "a"
	lim := limits.NewLimiter(limits.Config{
		Rate:        limits.Rate{PerSecond: 0.001, Burst: 3},
		Methods:     map[string]limits.Rate{"/x/Lookup": {PerSecond: 0.001, Burst: 1}},
		Concurrency: 1,
		Key:         func(context.Context) string { return caller },
	})
	call := func(method string, block chan struct{}) error {
		_, err := lim.Unary()(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: method},
			func(context.Context, any) (any, error) {
				if block != nil {
					<-block
				}
				return nil, nil
			})
		return err
	}
	if err := call("/x/Lookup", nil); err != nil {
		t.Fatalf("first look-up: %v", err)
	}
	if err := call("/x/Lookup", nil); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second look-up: %v, want ResourceExhausted", err)
	}
	if d, ok := limits.RetryAfter(call("/x/Lookup", nil)); !ok || d < time.Minute {
		t.Fatalf("retry hint %s, %v; want about 1000s", d, ok)
	}
	// The refused look-ups took no token from the caller's bucket: two left.
	for i := 0; i < 2; i++ {
		if err := call("/x/Other", nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	err := call("/x/Other", nil)
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || len(st.Details()) != 1 {
		t.Fatalf("past the burst: %v, want ResourceExhausted with RetryInfo", err)
	}
	if _, ok := st.Details()[0].(*errdetails.RetryInfo); !ok {
		t.Fatalf("detail %T, want RetryInfo", st.Details()[0])
	}
	// Another caller has buckets of its own, and one call in flight.
	caller = "b"
	block, done := make(chan struct{}), make(chan error)
	go func() { done <- call("/x/Other", block) }()
	for i := 0; ; i++ {
		err := call("/x/Other", nil)
		if status.Code(err) == codes.ResourceExhausted && strings.Contains(err.Error(), "in flight") {
			break
		}
		if i > 1000 {
			t.Fatalf("the second call in flight was never refused: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	close(block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func FuzzCheck(f *testing.F) {
	seed, _ := proto.Marshal(&jiexuv1.ImportRecordsRequest{Records: []*jiexuv1.Record{{Person: person()}}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []proto.Message{&jiexuv1.ImportRecordsRequest{}, &jiexuv1.NotifyTransferRequest{}, &jiexuv1.SignedSnapshot{}} {
			if proto.Unmarshal(data, m) != nil {
				continue
			}
			if err := limits.Check(m); err != nil {
				var fe *limits.FieldError
				if !errors.As(err, &fe) || len(fe.Violations) == 0 || len(err.Error()) > 20*300 {
					t.Fatalf("Check(%T) = %v", m, err)
				}
			}
		}
	})
}
