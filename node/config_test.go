package node

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
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
	// Every field of Config (and of its nested structs) is in the example.
	var doc map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &doc); err != nil {
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
