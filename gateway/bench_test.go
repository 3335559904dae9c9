package gateway

import (
	"crypto/x509"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	"jiexu/certs/certtest"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

func sealedNotice(b *testing.B) (*jiexuv1.NotifyTransferRequest, *view) {
	ca := certtest.NewCA(b)
	n := certtest.Node(b, ca, "150100")
	m := &jiexuv1.NotifyTransferRequest{
		Header: &jiexuv1.MessageHeader{MessageId: NewMessageID(), SenderRegion: "150100", ReceiverRegion: "150700", CaseId: "150700-20261123-000001", CreatedAt: timestamppb.Now()},
		Person: &jiexuv1.Person{Name: "王伟", IdNumber: "11010519491231002X"}, DestinationScheme: jiexuv1.Scheme_SCHEME_EMPLOYEE, OriginDivision: "150100",
	}
	if err := SealMessage(n.Signer, m); err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	router, err := registry.NewRouter(registry.DefaultTable(), []*jiexuv1.Node{{Region: "150100", CertificateFingerprints: []string{certs.Fingerprint(n.Signer.Cert)}}})
	if err != nil {
		b.Fatal(err)
	}
	return m, &view{roots: roots, verified: &registry.Verified{}, router: router}
}

// BenchmarkVerifyMessage checks a seal and the signer's chain every time.
func BenchmarkVerifyMessage(b *testing.B) {
	m, v := sealedNotice(b)
	now := time.Now()
	for b.Loop() {
		fresh := &view{roots: v.roots, verified: v.verified, router: v.router} // remembers nothing
		if _, err := fresh.verifyMessage(m, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyMessageRemembered is what a receiving node does: the
// signer's chain is verified once per snapshot.
func BenchmarkVerifyMessageRemembered(b *testing.B) {
	m, v := sealedNotice(b)
	now := time.Now()
	for b.Loop() {
		if _, err := v.verifyMessage(m, now); err != nil {
			b.Fatal(err)
		}
	}
}
