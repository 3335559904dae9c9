package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
)

// A config file is JSON with // comments (a line's rest after // outside a
// string), so that 'jiexu node init' can write a file that explains itself.
// Errors name the file, line and column, as a compiler does.

// stripComments blanks // comments out of data, keeping every byte offset
// (and so every line and column) of what remains.
func stripComments(data []byte) []byte {
	out := bytes.Clone(data)
	inString, escaped := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		}
	}
	return out
}

// position turns a byte offset into a 1-based line and column (in runes).
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, len([]rune(string(before[start:]))) + 1
}

// decodeConfig decodes a config file's bytes over cfg, refusing unknown
// keys; an error starts with path:line:col.
func decodeConfig(path string, data []byte, cfg *Config) error {
	clean := stripComments(data)
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.DisallowUnknownFields()
	err := dec.Decode(cfg)
	if err == nil {
		var extra json.RawMessage
		if dec.Decode(&extra) == nil {
			line, col := position(clean, dec.InputOffset()-int64(len(extra)))
			return fmt.Errorf("%s:%d:%d: text after the closing } of the config", path, line, col)
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(clean, syn.Offset-1)
		return fmt.Errorf("%s:%d:%d: %v (a missing comma or quote, or a comma before a closing brace?)", path, line, col, syn)
	case errors.As(err, &typ):
		field := typ.Field[strings.LastIndex(typ.Field, ".")+1:]
		line, col := keyPosition(clean, field)
		return fmt.Errorf("%s:%d:%d: %s must be a JSON %s, not %s", path, line, col, typ.Field, typ.Type.Kind(), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: the file ends before the config does (a missing closing brace?)", path)
	}
	if key, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		key = strings.Trim(key, `"`)
		line, col := keyPosition(clean, key)
		msg := fmt.Sprintf("%s:%d:%d: unknown key %q", path, line, col, key)
		if near := nearestKey(key); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		}
		return errors.New(msg + " (every key is listed in deploy/node.example.json)")
	}
	var bad *badValueError
	if errors.As(err, &bad) {
		line, col := keyPosition(clean, bad.value)
		return fmt.Errorf("%s:%d:%d: %v", path, line, col, bad)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// badValueError is a config value its type refused; value is its JSON text,
// used to find it in the file.
type badValueError struct {
	value string
	err   error
}

func (e *badValueError) Error() string { return fmt.Sprintf("%s: %v", e.value, e.err) }
func (e *badValueError) Unwrap() error { return e.err }

// keyPosition finds text (a key or a quoted value) in the file.
func keyPosition(data []byte, text string) (line, col int) {
	needle := []byte(`"` + strings.Trim(text, `"`) + `"`)
	if i := bytes.Index(data, needle); i >= 0 {
		return position(data, int64(i))
	}
	return 1, 1
}

// configKeys lists every key a config file may hold.
func configKeys() []string {
	var keys []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			keys = append(keys, jsonName(t.Field(i)))
			if t.Field(i).Type.Kind() == reflect.Struct {
				walk(t.Field(i).Type)
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
	return keys
}

func jsonName(f reflect.StructField) string { return strings.Split(f.Tag.Get("json"), ",")[0] }

// nearestKey returns the known key closest to a mistyped one, or "".
func nearestKey(key string) string {
	best, bestD := "", 4 // at most 3 edits away
	for _, k := range configKeys() {
		if len(k) >= 4 && (strings.HasPrefix(key, k) || strings.HasPrefix(k, key)) {
			return k
		}
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// configComments explain each key in a written config file.
var configComments = map[string]string{
	"region":                "The pooling region (GB/T 2260 code) and the agency, as the node certificate\n(cert_file) says; a node refuses to start when they differ from it. To\nchange them, get a new certificate ('jiexu node init').",
	"agency_name":           "",
	"kind":                  "\"insurance\" (社会（医疗）保险经办机构) or \"ncms\" (新型农村合作医疗经办机构), as the\ncertificate says.",
	"contact":               "Printed on the certificates (参保凭证) this node issues.",
	"data_dir":              "The store (jiexu.db) and its sidecar (jiexu.id, which must stay beside it).\nBack it up with 'jiexu node backup'; put a backup back with 'jiexu node restore'.",
	"listen":                "The inter-node listener (mutual TLS). Peers reach it at the address the\nregistry lists for this region, which must be one of the certificate's\nhosts.",
	"agency_listen":         "The local agency API used by 'jiexu records …', 'jiexu transfer …' and the\nbureau's own systems: a unix socket, unix:PATH (empty: agency.sock in\ndata_dir). It answers only the node's own user and root.",
	"agency_tls_listen":     "The agency API over TCP for the bureau's other machines, IP:port, with\nmutual TLS: each caller shows an operator certificate from operator_ca_dir\n('jiexu operator issue') whose role (reader, clerk, admin) decides what it\nmay call. Empty turns it off.",
	"operator_ca_dir":       "The node's own operator CA ('jiexu operator init'): the node reads its\nca.pem and crl.pem.",
	"metrics_listen":        "Prometheus /metrics over TLS with this node's certificate: only the national\nPrometheus, with its monitoring certificate from the national CA, may scrape\nit. A loopback address serves plain HTTP to this machine; empty turns it off.",
	"cert_file":             "The node certificate and key, and the national CA certificate. Replacing\ncert_file and key_file (or SIGHUP) reloads them without a restart.",
	"key_file":              "",
	"ca_file":               "",
	"registry_address":      "The national registry, host:port. Its certificate must name this host.",
	"registry_snapshot":     "A signed snapshot file to start from when the registry cannot be reached\nat the first start (optional).",
	"registry_refresh":      "How often to ask the registry for a newer snapshot.",
	"divisions_dir":         "A folder with a newer GB/T 2260 table than the embedded one (optional).",
	"retry_min":             "Delivery retries back off from retry_min to retry_max; a message failing for\ndead_after becomes a dead letter ('jiexu deadletters').",
	"retry_max":             "",
	"dead_after":            "",
	"call_timeout":          "One delivery attempt's bound. Attempts that keep timing out with no\nsuccess replace the connection to that peer.",
	"refusal_grace":         "How long a message the peer refuses with PermissionDenied, Unauthenticated\nor NotFound (which a registry refresh or a certificate rotation may cure)\nis retried before it becomes a dead letter.",
	"store_min_free_mib":    "Free space (MiB) on data_dir's disk below which the node reports\nNOT_SERVING (disk full): bbolt grows the store in steps of up to 16 MiB.",
	"waiting_period_months": "This region's waiting period before benefits when no rule waives it (0-6).",
	"calendar_file":         "A newer working-day calendar (date,kind,name lines) than the embedded one\n(optional); load next year's when the State Council publishes it.",
	"log_format":            "Logs on standard error: \"json\" or \"text\"; level \"debug\", \"info\", \"warn\" or\n\"error\".",
	"log_level":             "",
	"limits":                "What one caller may ask of the node: each peer region's calls a second\n(peer_rate, peer_burst) and calls in flight (peer_concurrency); certificate\nlook-ups, which answer with personal data (lookup_rate, lookup_burst); each\noperator's calls over agency_tls_listen; and on every listener the open\nconnections, the connections one caller's certificate may hold\n(max_connections_per_caller) and the calls on one connection. Beyond a limit\na call gets ResourceExhausted with a retry hint.",
	"reconcile_at":          "Every day at this time (HH:MM, China Standard Time) the node reconciles\n(对账) with each peer it shares cases of the last 90 days with, and sets\njiexu_reconcile_differences; \"off\" turns it off ('jiexu reconcile' runs one\nby hand).",
	"debug_pprof":           "Serve Go's profiler under /debug/pprof/ on the metrics listener ('jiexu bench\n--profile'). Off in production: a profile shows the node's memory.",
	"batch_seals":           "Seal the messages of one commit with one signature over their Merkle root, each\nmessage carrying its proof. Only when every peer accepts batch seals;\ncertificates are sealed alone either way.",
}

// CommentedConfig renders cfg as a config file with a comment on each key;
// header, when not empty, is written as a comment above it.
func CommentedConfig(cfg Config, header string) ([]byte, error) {
	var b bytes.Buffer
	comment := func(indent, text string) {
		if text == "" {
			return
		}
		for _, l := range strings.Split(text, "\n") {
			b.WriteString(strings.TrimRight(indent+"// "+l, " ") + "\n")
		}
	}
	comment("", header)
	b.WriteString("{\n")
	v := reflect.ValueOf(cfg)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := jsonName(t.Field(i))
		text, ok := configComments[key]
		if !ok {
			return nil, fmt.Errorf("config key %s has no comment in configComments", key)
		}
		if text != "" && i > 0 {
			b.WriteString("\n")
		}
		comment("  ", text)
		value, err := json.MarshalIndent(v.Field(i).Interface(), "  ", "  ")
		if err != nil {
			return nil, err
		}
		sep := ","
		if i == t.NumField()-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %q: %s%s\n", key, value, sep)
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// WriteCommentedConfig writes cfg to path as CommentedConfig does, readable
// by its owner and group only (it names the node's files and addresses).
func WriteCommentedConfig(path string, cfg Config, header string) error {
	data, err := CommentedConfig(cfg, header)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o640)
}
