package certs_test

import (
	"testing"
	"time"

	"jiexu/certs"
	"jiexu/certs/certtest"
)

func BenchmarkSeal(b *testing.B) {
	n := certtest.Node(b, certtest.NewCA(b), "150100")
	content := make([]byte, 600)
	for b.Loop() {
		if _, err := n.Signer.Seal(certs.DomainMessage, content); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckSeal(b *testing.B) {
	n := certtest.Node(b, certtest.NewCA(b), "150100")
	roots, _ := certs.LoadPool(n.CAFile())
	content := make([]byte, 600)
	seal, _ := n.Signer.Seal(certs.DomainMessage, content)
	now := time.Now()
	for b.Loop() {
		if _, err := certs.CheckSeal(seal, certs.DomainMessage, content, roots, nil, now); err != nil {
			b.Fatal(err)
		}
	}
}
