package backlog

import (
	"testing"
	"time"
)

func TestLogTime(t *testing.T) {
	want := time.Date(2026, 11, 25, 8, 35, 7, 123456000, time.UTC)
	tests := []struct {
		name, line string
		ok         bool
	}{
		{"text", `time=2026-11-25T08:35:07.123456Z level=INFO msg="node serving" region=150100`, true},
		{"json", `{"time":"2026-11-25T08:35:07.123456Z","level":"INFO","msg":"node serving"}`, true},
		{"no time", `level=INFO msg="node serving"`, false},
		{"bad time", `time=yesterday level=INFO msg="node serving"`, false},
	}
	for _, tt := range tests {
		got, err := logTime(tt.line)
		if (err == nil) != tt.ok || tt.ok && !got.Equal(want) {
			t.Errorf("%s: logTime = %v, %v; want %v (ok %v)", tt.name, got, err, want, tt.ok)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	o := NewOptions()
	if err := o.Validate(); err == nil {
		t.Error("Validate without a binary succeeded")
	}
	o.Binary = "jiexu"
	if err := o.Validate(); err != nil {
		t.Errorf("Validate(defaults) = %v", err)
	}
	o.Messages = 0
	if err := o.Validate(); err == nil {
		t.Error("Validate(0 messages) succeeded")
	}
}
