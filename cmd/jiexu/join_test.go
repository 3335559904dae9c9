package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeAddr returns a 127.0.0.1 address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// jiexuIn runs the binary in dir and returns its output.
func jiexuIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("jiexu %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// jiexuFails runs the binary in dir, wants it to exit with code, and
// returns its output.
func jiexuFails(t *testing.T, dir string, code int, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != code {
		t.Fatalf("jiexu %s: %v, want exit status %d\n%s", strings.Join(args, " "), err, code, out)
	}
	return string(out)
}

// waitFor retries check (bounded) until it returns "".
func waitFor(t *testing.T, what string, check func() string) {
	t.Helper()
	last := ""
	for i := 0; i < 200; i++ {
		if last = check(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}

// The README's joining section, run as a new user would: the national
// level, a city node, then a county NCMS office joining with node init and
// one bundle, and a test transfer between them.
func TestACountyOfficeJoinsAsTheReadmeSays(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	root := t.TempDir()
	nat, city, office := filepath.Join(root, "nat"), filepath.Join(root, "city"), filepath.Join(root, "office")
	for _, d := range []string{nat, city, office} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	regAddr := freeAddr(t)

	// The national level.
	jiexuIn(t, nat, "ca", "init", "--dir", "ca")
	jiexuIn(t, nat, "ca", "issue", "--ca", "ca", "--registry", "--name", "jiexu registry", "--host", "127.0.0.1", "--out", "registry/tls")
	jiexuIn(t, nat, "registry", "init", "--dir", "registry")
	jiexuIn(t, nat, "registry", "sign", "--dir", "registry", "--ca", "ca", "--tls", "registry/tls")
	start(t, filepath.Join(root, "registry.log"), "registry", "serve", "--dir", filepath.Join(nat, "registry"), "--listen", regAddr, "--tls", filepath.Join(nat, "registry", "tls"))

	// join runs the agency's and the national level's side for one node
	// and returns its config file and process.
	join := func(dir, region, name, kind string, listen bool) (string, *process) {
		t.Helper()
		peerAddr, metricsAddr := freeAddr(t), freeAddr(t)
		out := jiexuIn(t, dir, "node", "init", "--dir", ".", "--region", region, "--name", name, "--kind", kind)
		if !strings.Contains(out, "csr.pem") {
			t.Errorf("node init (step 1) did not name the request:\n%s", out)
		}
		signed := filepath.Join("out", region)
		out = jiexuIn(t, nat, "ca", "sign", "--ca", "ca", "--csr", filepath.Join(dir, "csr.pem"), "--host", "127.0.0.1",
			"--registry-address", regAddr, "--out", signed)
		if !strings.Contains(out, "bundle.pem") {
			t.Errorf("ca sign did not name the bundle:\n%s", out)
		}
		cert := filepath.Join(signed, "cert.pem")
		if listen {
			jiexuIn(t, nat, "registry", "add", "--dir", "registry", "--cert", cert, "--address", peerAddr, "--metrics", metricsAddr)
			jiexuIn(t, nat, "registry", "sign", "--dir", "registry", "--ca", "ca", "--tls", "registry/tls")
		}
		out = jiexuIn(t, dir, "node", "init", "--dir", ".", "--bundle", filepath.Join(nat, signed, "bundle.pem"),
			"--listen", peerAddr, "--metrics-listen", metricsAddr)
		if !strings.Contains(out, "wrote node.json") || !strings.Contains(out, kind) {
			t.Errorf("node init (step 2):\n%s", out)
		}
		if !strings.Contains(out, "contact    none yet") || !strings.Contains(out, "--contact-address") {
			t.Errorf("node init (step 2) without --contact-… does not say the certificates will print no contact:\n%s", out)
		}
		cfg := filepath.Join(dir, "node.json")
		return cfg, start(t, filepath.Join(dir, "node.log"), "node", "serve", "--config", cfg)
	}
	status := func(cfg string) string {
		out, _ := exec.Command(binary, "node", "status", "--config", cfg).CombinedOutput()
		return string(out)
	}

	cityCfg, _ := join(city, "150100", "呼和浩特市医疗保险管理局", "insurance", true)
	waitFor(t, "city node SERVING", func() string {
		if s := status(cityCfg); !strings.Contains(s, "health              SERVING") {
			return s
		}
		return ""
	})

	// The office starts before the national level lists it: NOT_SERVING,
	// exit status 1, and the fix.
	officeCfg, officeProc := join(office, "150781", "满洲里市合作医疗管理办公室", "ncms", false)
	waitFor(t, "office node answering", func() string {
		if s := status(officeCfg); !strings.Contains(s, "not in the registry snapshot") {
			return s
		}
		return ""
	})
	out := jiexuFails(t, office, 1, "node", "status", "--config", officeCfg)
	if !strings.Contains(out, "NOT_SERVING") || !strings.Contains(out, "jiexu registry add") {
		t.Errorf("node status of an unlisted node:\n%s", out)
	}

	// registry add refuses an address the certificate does not name.
	cert := filepath.Join("out", "150781", "cert.pem")
	out = jiexuFails(t, nat, 1, "registry", "add", "--dir", "registry", "--cert", cert, "--address", "10.9.9.9:7443")
	if !strings.Contains(out, "certificate is not valid for the address 10.9.9.9:7443") || !strings.Contains(out, "--host 10.9.9.9") {
		t.Errorf("registry add at an uncertified address:\n%s", out)
	}
	officeNode := readConfig(t, officeCfg)
	jiexuIn(t, nat, "registry", "add", "--dir", "registry", "--cert", cert, "--address", officeNode["listen"], "--metrics", officeNode["metrics_listen"])
	jiexuIn(t, nat, "registry", "sign", "--dir", "registry", "--ca", "ca", "--tls", "registry/tls")
	if show := jiexuIn(t, nat, "registry", "show", "--dir", "registry"); !strings.Contains(show, "150781  ncms") {
		t.Errorf("registry show: the kind does not come from the certificate:\n%s", show)
	}
	officeProc.kill(syscall.SIGTERM)
	officeProc.start()
	waitFor(t, "office node SERVING", func() string {
		if s := status(officeCfg); !strings.Contains(s, "health              SERVING") {
			return s
		}
		return ""
	})

	// A test transfer: an NCMS participant at the office joins the city's
	// employee scheme. The city has not refreshed since the office joined.
	const id = "15078119850317042X"
	out = jiexuFails(t, office, 1, "records", "put", "--config", officeCfg, "--id", id, "--name", "王小梅", "--scheme", "ncms", "--from", "2020-01",
		"--household", "agricultural", "--head-name", "王建国", "--head-id", "150781196001010011")
	if !strings.Contains(out, "--head-id: check character") {
		t.Errorf("records put with a bad --head-id:\n%s", out)
	}
	jiexuIn(t, office, "records", "put", "--config", officeCfg, "--id", id, "--name", "王小梅", "--scheme", "ncms", "--from", "2020-01",
		"--months", "70", "--household", "agricultural", "--head-name", "王建国", "--head-id", "150781196001010013", "--insurance-number", "NC1507810042")
	jiexuIn(t, city, "records", "put", "--config", cityCfg, "--id", id, "--name", "王小梅", "--scheme", "employee")
	out = jiexuIn(t, city, "transfer", "apply", "--config", cityCfg, "--id", id, "--name", "王小梅", "--origin", "150781", "--card", "NC1507810042")
	m := regexp.MustCompile(`case\s+(\S+) \(destination side\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("transfer apply printed no case:\n%s", out)
	}
	waitFor(t, "the case completes", func() string {
		if s := jiexuIn(t, city, "transfer", "status", "--config", cityCfg, m[1]); !strings.Contains(s, "COMPLETED") {
			return s
		}
		return ""
	})
	if s := jiexuIn(t, office, "transfer", "list", "--config", officeCfg); !strings.Contains(s, "CLOSED") {
		t.Errorf("office transfer list:\n%s", s)
	}
	if s := jiexuIn(t, office, "transfer", "list", "--config", officeCfg, "--json"); !strings.Contains(s, `"state": "CASE_STATE_CLOSED"`) {
		t.Errorf("office transfer list --json:\n%s", s)
	}
}

// readConfig reads the string keys of a written config (comments removed).
func readConfig(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*"([a-z_]+)": "([^"]*)"`).FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = m[2]
	}
	return out
}
