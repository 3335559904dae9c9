package certs_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"

	"jiexu/certs"
	"jiexu/certs/certtest"
)

func TestMetricsAnswerTheMonitoringCertificateOnly(t *testing.T) {
	ca := certtest.NewCA(t)
	nodeCert := certtest.Node(t, ca, "150781")
	kp, err := certs.LoadKeyPair(nodeCert.CertFile(), nodeCert.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := certs.LoadPool(nodeCert.CAFile())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "jiexu_up 1\n") })}
	go srv.Serve(tls.NewListener(lis, certs.MetricsTLS(kp, roots)))
	t.Cleanup(func() { srv.Close() })

	client := func(i *certtest.Issued) *http.Client {
		cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}
		if i != nil {
			c, err := tls.LoadX509KeyPair(i.CertFile(), i.KeyFile())
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{c}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	monitoring := certtest.Issue(t, ca, certs.IssueRequest{Role: certs.RoleMonitoring, Name: "national Prometheus"})
	otherNode := certtest.Node(t, ca, "150100")
	foreign := certtest.Issue(t, certtest.NewCA(t), certs.IssueRequest{Role: certs.RoleMonitoring, Name: "someone's Prometheus"})
	tests := []struct {
		name   string
		client *certtest.Issued
		ok     bool
	}{
		{"the monitoring certificate", &monitoring, true},
		{"no certificate", nil, false},
		{"a node's certificate", &otherNode, false},
		{"a monitoring certificate from another CA", &foreign, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client(tt.client).Get("https://" + lis.Addr().String() + "/metrics")
			if err == nil {
				resp.Body.Close()
			}
			if ok := err == nil && resp.StatusCode == 200; ok != tt.ok {
				t.Errorf("scrape: err %v, want success %v", err, tt.ok)
			}
		})
	}
}
