package registry_test

import (
	"errors"
	"strings"
	"testing"

	"jiexu/certs"
	"jiexu/certs/certtest"
	"jiexu/registry"
)

func TestCheckNodeCertificateAgainstTheAddress(t *testing.T) {
	ca := certtest.NewCA(t)
	issued := certtest.Issue(t, ca, certs.IssueRequest{Region: "150781", Name: "x", Hosts: []string{"10.1.2.3", "mzl.example.cn"}})
	cert, err := certs.LoadCertificate(issued.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		addrs   []string
		wantErr error
		want    string
	}{
		{"the IP it names", []string{"10.1.2.3:7443"}, nil, ""},
		{"the DNS name it names, and metrics", []string{"mzl.example.cn:7443", "10.1.2.3:9443"}, nil, ""},
		{"no metrics address", []string{"10.1.2.3:7443", ""}, nil, ""},
		{"another IP", []string{"127.0.0.1:7443"}, registry.ErrAddressNotCertified, "it names mzl.example.cn, 10.1.2.3"},
		{"metrics elsewhere", []string{"10.1.2.3:7443", "10.9.9.9:9443"}, registry.ErrAddressNotCertified, "--host 10.9.9.9"},
		{"no port", []string{"10.1.2.3"}, nil, "want host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := registry.CheckNodeCertificate(cert, tt.addrs...)
			if tt.want == "" {
				if err != nil {
					t.Errorf("CheckNodeCertificate(%v) = %v, want nil", tt.addrs, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("CheckNodeCertificate(%v) = %v, want %v saying %q", tt.addrs, err, tt.wantErr, tt.want)
			}
		})
	}
}
