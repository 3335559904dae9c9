package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jiexu/certs"
	"jiexu/certs/certtest"
)

func TestConfigErrorsGiveLineAndColumn(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"missing comma", "{\n  \"region\": \"150100\"\n  \"kind\": \"ncms\"\n}", []string{"node.json:3:3:", "missing comma"}},
		{"comma before the brace", "{\n  \"region\": \"150100\",\n}", []string{"node.json:3:1:"}},
		{"unknown key, with the near one", "{\n  \"region\": \"150100\",\n  \"registry_adress\": \"x:1\"\n}", []string{"node.json:3:3:", `unknown key "registry_adress"`, `did you mean "registry_address"`}},
		{"unknown nested key", "{\"contact\": {\"phone_number\": \"1\"}}", []string{"node.json:1:14:", `unknown key "phone_number"`, `"phone"`}},
		{"wrong type", "{\n  \"waiting_period_months\": \"3\"\n}", []string{"node.json:2:3:", "waiting_period_months must be a JSON int"}},
		{"bad duration", "{\n  \"retry_max\": \"1 minute\"\n}", []string{"node.json:2:16:", "not a duration"}},
		{"cut short", "{\n  \"region\": \"150100\",", []string{"node.json:", "ends before"}},
		{"text after the object", "{}\n{}", []string{"node.json:2:1:", "after the closing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.json")
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("LoadConfig succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestConfigCommentsAreIgnoredOutsideStrings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.json")
	text := "// header\n{\n  // a comment with \"quotes\" and a , comma\n  \"agency_name\": \"a // b \\\" // c\", // trailing\n  \"region\": \"150100\"\n}\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgencyName != `a // b " // c` || cfg.Region != "150100" {
		t.Errorf("got agency_name %q region %q", cfg.AgencyName, cfg.Region)
	}
}

// joinFixture makes a request in dir as step 1 does and signs it as the CA does.
func joinFixture(t *testing.T, ca *certs.CA, dir, kind, registry string) string {
	t.Helper()
	if err := certs.CreateCSR(dir, "150781", "满洲里市合作医疗管理办公室", kind); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cert, err := ca.SignCSRKind(filepath.Join(dir, certs.CSRFile), []string{"10.1.2.3"}, "", out)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(out, certs.BundleFile)
	if err := certs.WriteBundle(bundle, certs.Bundle{Cert: cert, CA: ca.Cert, RegistryAddress: registry}); err != nil {
		t.Fatal(err)
	}
	return bundle
}

func TestInstallBundleWritesAConfigFromTheCertificate(t *testing.T) {
	ca := certtest.NewCA(t)
	dir := t.TempDir()
	bundle := joinFixture(t, ca, dir, certs.KindNCMS, "10.0.0.1:7400")
	j, err := InstallBundle(JoinOptions{Dir: dir, Bundle: bundle, Contact: Contact{Phone: "0470-12333"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(j.ConfigFile)
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the written config is invalid: %v", err)
	}
	want := map[string]string{"region": "150781", "agency_name": "满洲里市合作医疗管理办公室", "kind": "ncms",
		"registry_address": "10.0.0.1:7400", "phone": "0470-12333", "data_dir": filepath.Join(dir, "data")}
	got := map[string]string{"region": cfg.Region, "agency_name": cfg.AgencyName, "kind": cfg.Kind,
		"registry_address": cfg.RegistryAddress, "phone": cfg.Contact.Phone, "data_dir": cfg.DataDir}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	kp, err := certs.LoadKeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		t.Fatalf("installed certificate and key: %v", err)
	}
	if err := cfg.CheckCertificate(kp.Leaf()); err != nil {
		t.Errorf("the written config disagrees with its certificate: %v", err)
	}
	if text, _ := os.ReadFile(j.ConfigFile); !strings.Contains(string(text), "// ") {
		t.Error("the written config has no comments")
	}

	// Again: the config is kept, unless --force.
	if j, err := InstallBundle(JoinOptions{Dir: dir, Bundle: bundle}); err != nil || !j.ConfigKept {
		t.Errorf("second InstallBundle: kept %v, err %v; want the config kept", j != nil && j.ConfigKept, err)
	}

	// The config must agree with the certificate on name and kind.
	for _, tt := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.AgencyName = "满洲里市医疗保险事业管理局" }, `set agency_name to "满洲里市合作医疗管理办公室"`},
		{func(c *Config) { c.Kind = "insurance" }, `set "kind": "ncms"`},
	} {
		c := cfg
		tt.mutate(&c)
		if err := c.CheckCertificate(kp.Leaf()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckCertificate = %v, want it to say %q", err, tt.want)
		}
	}
}

func TestInstallBundleRefuses(t *testing.T) {
	ca := certtest.NewCA(t)
	tests := []struct {
		name string
		opts func(dir, bundle string) JoinOptions
		kind string
		reg  string
		want string
	}{
		{"another folder's key", func(_, bundle string) JoinOptions {
			other := t.TempDir()
			_ = certs.CreateCSR(other, "150781", "x", "ncms")
			return JoinOptions{Dir: other, Bundle: bundle}
		}, "ncms", "10.0.0.1:7400", "not for the key"},
		{"no request made here", func(_, bundle string) JoinOptions { return JoinOptions{Dir: t.TempDir(), Bundle: bundle} }, "ncms", "10.0.0.1:7400", "first"},
		{"no registry anywhere", func(dir, bundle string) JoinOptions { return JoinOptions{Dir: dir, Bundle: bundle} }, "ncms", "", "--registry"},
		{"no kind anywhere", func(dir, bundle string) JoinOptions { return JoinOptions{Dir: dir, Bundle: bundle} }, "", "10.0.0.1:7400", "--kind"},
		{"a kind against the certificate", func(dir, bundle string) JoinOptions { return JoinOptions{Dir: dir, Bundle: bundle, Kind: "insurance"} }, "ncms", "10.0.0.1:7400", "certificate says ncms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			bundle := joinFixture(t, ca, dir, tt.kind, tt.reg)
			_, err := InstallBundle(tt.opts(dir, bundle))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("InstallBundle = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
