package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	"jiexu/certs/certtest"
	"jiexu/gateway"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/proto/limits"
	"jiexu/registry"
)

// fuzzNode is a node (not serving) with a registry snapshot naming it and a
// peer, 150700, whose certificate the fuzzed inter-node calls come with.
func fuzzNode(tb testing.TB) (*Node, certtest.Issued) {
	tb.Helper()
	ca := certtest.NewCA(tb)
	self, other := certtest.Node(tb, ca, "150100"), certtest.Node(tb, ca, "150700")
	reg := certtest.Registry(tb, ca)
	dir := tb.TempDir()
	crl, err := ca.Revoked()
	if err != nil {
		tb.Fatal(err)
	}
	snap := &jiexuv1.Snapshot{Nodes: []*jiexuv1.Node{
		{Region: "150100", Address: "127.0.0.1:1", CertificateFingerprints: []string{certs.Fingerprint(self.Signer.Cert)}},
		{Region: "150700", Address: "127.0.0.1:1", CertificateFingerprints: []string{certs.Fingerprint(other.Signer.Cert)}},
	}, RevocationList: crl.DER}
	registry.Stamp(snap, 1, time.Now(), time.Hour)
	signed, err := registry.Sign(snap, reg.Signer)
	if err != nil {
		tb.Fatal(err)
	}
	snapFile := filepath.Join(dir, "snapshot.pb")
	if err := WritePrivate(snapFile, mustMarshal(tb, signed)); err != nil {
		tb.Fatal(err)
	}
	cfg := NewConfig()
	cfg.Region, cfg.AgencyName, cfg.DataDir = "150100", self.Signer.Cert.Subject.CommonName, filepath.Join(dir, "data")
	cfg.CertFile, cfg.KeyFile, cfg.CAFile = self.CertFile(), self.KeyFile(), self.CAFile()
	cfg.RegistrySnapshot = snapFile
	n, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.db.Close() })
	return n, other
}

func mustMarshal(tb testing.TB, m proto.Message) []byte {
	tb.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// handler is one unary method of a service, with the server that serves it.
type handler struct {
	srv  any
	desc grpc.MethodDesc
	peer bool // an inter-node call: the caller is the peer
	name string
}

// FuzzHandlers drives every unary inter-node and agency handler with
// arbitrary requests, as the interceptors let them through (the field
// limits checked first): none may panic, and none may answer Unknown.
func FuzzHandlers(f *testing.F) {
	n, other := fuzzNode(f)
	ps, as, aud := &peerServer{n: n}, &agencyServer{n: n}, &auditServer{n: n}
	var hs []handler
	for _, s := range []struct {
		srv  any
		desc grpc.ServiceDesc
		peer bool
	}{
		{ps, jiexuv1.TransferService_ServiceDesc, true},
		{ps, jiexuv1.CertificateService_ServiceDesc, true},
		{ps, jiexuv1.RemittanceService_ServiceDesc, true},
		{as, jiexuv1.AgencyService_ServiceDesc, false},
		{aud, jiexuv1.AuditService_ServiceDesc, false},
	} {
		for _, m := range s.desc.Methods {
			hs = append(hs, handler{srv: s.srv, desc: m, peer: s.peer, name: "/" + s.desc.ServiceName + "/" + m.MethodName})
		}
	}
	peerCtx := peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{
		VerifiedChains: [][]*x509.Certificate{{other.Signer.Cert}}}}})
	agencyCtx := context.WithValue(peer.NewContext(context.Background(), &peer.Peer{AuthInfo: unixPeer{uid: 0}}), operatorKey{}, Operator{Name: "fuzz", Role: RoleAdmin})

	// Seeds: a well-formed, sealed request for some methods.
	person := &jiexuv1.Person{Name: "王伟", IdNumber: "11010519491231002X", HouseholdType: jiexuv1.HouseholdType_HOUSEHOLD_TYPE_NON_AGRICULTURAL}
	notify := &jiexuv1.NotifyTransferRequest{Header: &jiexuv1.MessageHeader{MessageId: "m1", SenderRegion: "150700", ReceiverRegion: "150100",
		CaseId: "150700-20261123-000001", CreatedAt: timestamppb.Now()}, Person: person, DestinationScheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, OriginDivision: "150100"}
	if err := gateway.SealMessage(other.Signer, notify); err != nil {
		f.Fatal(err)
	}
	for i, h := range hs {
		switch h.desc.MethodName {
		case "NotifyTransfer":
			f.Add(uint8(i), mustMarshal(f, notify))
		case "LookupCertificate", "CheckCertificate":
			f.Add(uint8(i), mustMarshal(f, &jiexuv1.LookupCertificateRequest{Number: "蒙呼和浩特2026第00001号", IdNumber: person.IdNumber, VerificationCode: "AAAA-BBBB-CCCC"}))
		case "PutRecord":
			f.Add(uint8(i), mustMarshal(f, &jiexuv1.PutRecordRequest{Record: &jiexuv1.Record{Person: person, Scheme: jiexuv1.Scheme_SCHEME_EMPLOYEE,
				Division: "150100", EnrolledFrom: &jiexuv1.YearMonth{Year: 2020, Month: 1}}}))
		case "ApplyTransfer":
			f.Add(uint8(i), mustMarshal(f, &jiexuv1.ApplyTransferRequest{IdNumber: person.IdNumber, Name: person.Name, OriginDivision: "150700"}))
		default:
			f.Add(uint8(i), []byte{})
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		h := hs[int(which)%len(hs)]
		ctx := agencyCtx
		if h.peer {
			ctx = peerCtx
		}
		var stopped bool // by gRPC's decoding or the field limits, before the handler
		dec := func(m any) error {
			if err := proto.Unmarshal(data, m.(proto.Message)); err != nil {
				stopped = true
				return err
			}
			if !h.peer {
				normalizeRequest(m)
			}
			err := limits.Check(m.(proto.Message))
			stopped = err != nil
			return err
		}
		_, err := h.desc.Handler(h.srv, ctx, dec, nil)
		if err != nil && !stopped && codeOf(err) == "Unknown" {
			t.Fatalf("%s answered Unknown: %v", h.name, err)
		}
	})
}

// codeOf names an error's gRPC code; an error without a status is Unknown.
func codeOf(err error) string { return grpcstatus.Code(err).String() }
