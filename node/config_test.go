package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The documented example must load, and every field of Config must be in it.
func TestExampleConfigDocumentsEveryOption(t *testing.T) {
	path := filepath.Join("..", "deploy", "node.example.json")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig(%s): %v", path, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example config invalid: %v", err)
	}
	data, _ := os.ReadFile(path)
	for _, key := range []string{"region", "agency_name", "kind", "contact", "data_dir", "listen", "agency_listen", "metrics_listen",
		"cert_file", "key_file", "ca_file", "registry_address", "registry_snapshot", "registry_refresh", "divisions_dir",
		"retry_min", "retry_max", "dead_after", "waiting_period_months", "calendar_file", "log_format", "log_level"} {
		if !strings.Contains(string(data), `"`+key+`"`) {
			t.Errorf("deploy/node.example.json lacks %q", key)
		}
	}
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
