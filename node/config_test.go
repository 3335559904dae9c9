package node

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite deploy/node.example.json from CommentedConfig")

// exampleConfig is the documented example: what 'jiexu node init' writes in
// the system layout for an NCMS office, with a placeholder registry.
func exampleConfig() Config {
	cfg := NewConfig()
	cfg.Region, cfg.AgencyName, cfg.Kind = "150781", "满洲里市合作医疗管理办公室", "ncms"
	cfg.Contact = Contact{Address: "满洲里市政务服务中心二楼医保窗口", Postcode: "021400", Phone: "0470-12333", ContactPerson: "经办窗口"}
	cfg.DataDir, cfg.AgencyListen = SystemDataDir, SystemAgencyListen
	cfg.Listen, cfg.MetricsListen = "0.0.0.0:7443", "0.0.0.0:9443"
	cfg.RegistryAddress = "registry.example:7400"
	return cfg
}

// The documented example is what node init writes, so the two never drift.
func TestExampleConfigIsWhatNodeInitWrites(t *testing.T) {
	path := filepath.Join("..", "deploy", "node.example.json")
	want, err := CommentedConfig(exampleConfig(), "An example of the config 'jiexu node init --bundle' writes, for an NCMS office\n"+
		"in the system layout (config in /etc/jiexu, store in /var/lib/jiexu). JSON\n"+
		"with // comments; relative paths are resolved against this file's folder.\n"+
		"registry.example is a placeholder: a node refuses to start with it.")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from CommentedConfig(exampleConfig()); run 'go test ./node -run TestExampleConfig -update'", path)
	}
}

// The documented example must load, and every field of Config must be in it.
func TestExampleConfigDocumentsEveryOption(t *testing.T) {
	path := filepath.Join("..", "deploy", "node.example.json")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig(%s): %v", path, err)
	}
	// Unchanged, it must not start: its registry is a placeholder.
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "registry_address") || !strings.Contains(err.Error(), "placeholder") {
		t.Fatalf("example config Validate() = %v, want the placeholder registry_address refused", err)
	}
	cfg.RegistryAddress = "10.0.0.1:7400"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example config with a registry invalid: %v", err)
	}
	// Every field of Config (and of its nested structs) is in the example.
	var doc map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(stripComments(data), &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(t reflect.Type, doc map[string]any, prefix string)
	walk = func(typ reflect.Type, doc map[string]any, prefix string) {
		for i := 0; i < typ.NumField(); i++ {
			key := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
			v, ok := doc[key]
			if !ok {
				t.Errorf("deploy/node.example.json lacks %s%s", prefix, key)
				continue
			}
			if typ.Field(i).Type.Kind() == reflect.Struct {
				sub, _ := v.(map[string]any)
				walk(typ.Field(i).Type, sub, prefix+key+".")
			}
		}
	}
	walk(reflect.TypeOf(Config{}), doc, "")
}

func TestConfigValidateNamesTheField(t *testing.T) {
	tests := []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Region = "15078" }, "region"},
		{func(c *Config) { c.AgencyName = "" }, "agency_name"},
		{func(c *Config) { c.Kind = "bank" }, "kind"},
		{func(c *Config) { c.AgencyListen = "0.0.0.0:9000" }, "agency_listen"},
		{func(c *Config) { c.AgencyListen = "127.0.0.1:9000" }, "agency_listen"},
		{func(c *Config) { c.AgencyListen = "127.attacker.example:9000" }, "agency_listen"},
		{func(c *Config) { c.AgencyListen = "unix:/" + strings.Repeat("x", 120) }, "agency_listen"},
		{func(c *Config) { c.AgencyTLSListen = "127.attacker.example:9000" }, "agency_tls_listen"},
		{func(c *Config) { c.AgencyTLSListen = "7444" }, "agency_tls_listen"},
		{func(c *Config) { c.AgencyTLSListen, c.OperatorCADir = "127.0.0.1:7444", "" }, "operator_ca_dir"},
		{func(c *Config) { c.RegistryAddress, c.RegistrySnapshot = "", "" }, "registry_address"},
		{func(c *Config) { c.RetryMin = 0 }, "retry_min"},
		{func(c *Config) { c.LogFormat = "xml" }, "log_format"},
		{func(c *Config) { c.WaitingPeriodMonths = 7 }, "waiting_period_months"},
	}
	for _, tt := range tests {
		cfg := NewConfig()
		cfg.Region, cfg.AgencyName, cfg.RegistryAddress = "150100", "x", "127.0.0.1:1"
		tt.mutate(&cfg)
		if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("LoadConfig(missing) succeeded")
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"region":"150100","colour":"red"}`), 0o644)
	if _, err := LoadConfig(bad); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("LoadConfig(unknown field) = %v, want it named", err)
	}
}
