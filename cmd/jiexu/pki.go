package main

import (
	"context"
	"fmt"
	"math/big"
	"path/filepath"

	"jiexu/certs"
)

func runCAInit(_ context.Context, args []string) error {
	fs := flagSet("ca init")
	dir := fs.String("dir", "", "folder for the CA (created; must not hold a CA already)")
	name := fs.String("name", certs.DefaultCAName, "the root's subject common name")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "dir"); err != nil {
		return err
	}
	ca, err := certs.InitCA(*dir, *name)
	if err != nil {
		return err
	}
	fmt.Printf("created CA %q in %s (key %s: keep it offline)\n", ca.Cert.Subject.CommonName, *dir, filepath.Join(*dir, certs.CAKeyFile))
	return nil
}

func runCAIssue(_ context.Context, args []string) error {
	fs := flagSet("ca issue")
	caDir := fs.String("ca", "", "the CA folder")
	region := fs.String("region", "", "pooling-region code (GB/T 2260), e.g. 150100")
	name := fs.String("name", "", "agency name, e.g. 呼和浩特市医疗保险管理局")
	out := fs.String("out", "", "folder to write key.pem, cert.pem and ca.pem into")
	reg := fs.Bool("registry", false, "issue the registry's signing certificate instead of a node's")
	var hosts listFlag
	fs.Var(&hosts, "host", "DNS name or IP address the node serves on (repeatable)")
	table := tableFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "ca", "name", "out"); err != nil {
		return err
	}
	req := certs.IssueRequest{Role: certs.RoleNode, Region: *region, Name: *name, Hosts: hosts}
	if *reg {
		req.Role = certs.RoleRegistry
	} else if err := required(fs, "region"); err != nil {
		return err
	}
	t, err := table()
	if err != nil {
		return err
	}
	ca, err := certs.LoadCA(*caDir, certs.WithRegionCheck(t.CheckPlace))
	if err != nil {
		return err
	}
	cert, err := ca.Issue(req, *out)
	if err != nil {
		return err
	}
	fmt.Printf("issued %s for %s, serial %s, valid to %s\n  %s\n  fingerprint %s\n", cert.URIs[0], *name, cert.SerialNumber,
		cert.NotAfter.Format("2006-01-02"), filepath.Join(*out, certs.CertFile), certs.Fingerprint(cert))
	return nil
}

func runCACSR(_ context.Context, args []string) error {
	fs := flagSet("ca csr")
	region := fs.String("region", "", "pooling-region code")
	name := fs.String("name", "", "agency name")
	out := fs.String("out", "", "folder for key.pem and csr.pem")
	table := tableFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "region", "name", "out"); err != nil {
		return err
	}
	t, err := table()
	if err != nil {
		return err
	}
	if err := t.CheckPlace(*region); err != nil {
		return fmt.Errorf("--region: %w", err)
	}
	if err := certs.CreateCSR(*out, *region, *name); err != nil {
		return err
	}
	fmt.Printf("wrote %s (send it to the national CA) and %s (keep it here)\n", filepath.Join(*out, certs.CSRFile), filepath.Join(*out, certs.KeyFile))
	return nil
}

func runCASign(_ context.Context, args []string) error {
	fs := flagSet("ca sign")
	caDir := fs.String("ca", "", "the CA folder")
	csr := fs.String("csr", "", "the node's csr.pem")
	out := fs.String("out", "", "folder to write cert.pem and ca.pem into")
	var hosts listFlag
	fs.Var(&hosts, "host", "DNS name or IP address the node serves on (repeatable)")
	table := tableFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "ca", "csr", "out"); err != nil {
		return err
	}
	t, err := table()
	if err != nil {
		return err
	}
	ca, err := certs.LoadCA(*caDir, certs.WithRegionCheck(t.CheckPlace))
	if err != nil {
		return err
	}
	cert, err := ca.SignCSR(*csr, hosts, *out)
	if err != nil {
		return err
	}
	fmt.Printf("signed %s for %s, serial %s\n", cert.URIs[0], cert.Subject.CommonName, cert.SerialNumber)
	return nil
}

func runCARevoke(_ context.Context, args []string) error {
	fs := flagSet("ca revoke")
	caDir := fs.String("ca", "", "the CA folder")
	var serials, files listFlag
	fs.Var(&serials, "serial", "decimal serial number to revoke (repeatable)")
	fs.Var(&files, "cert", "certificate file to revoke (repeatable)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "ca"); err != nil {
		return err
	}
	var ns []*big.Int
	for _, s := range serials {
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return fmt.Errorf("--serial %q is not a decimal number", s)
		}
		ns = append(ns, n)
	}
	for _, f := range files {
		c, err := certs.LoadCertificate(f)
		if err != nil {
			return err
		}
		ns = append(ns, c.SerialNumber)
	}
	if len(ns) == 0 {
		fs.Usage()
		return fmt.Errorf("name at least one --serial or --cert")
	}
	ca, err := certs.LoadCA(*caDir)
	if err != nil {
		return err
	}
	if _, err := ca.Revoke(ns); err != nil {
		return err
	}
	fmt.Printf("revoked %d certificate(s); wrote %s. Run 'jiexu registry sign' so nodes learn of it.\n", len(ns), filepath.Join(*caDir, certs.CRLFile))
	return nil
}
