package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"jiexu/node"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// agencyFlags name the node a command talks to: --config (or JIEXU_CONFIG),
// or --agency, with --operator for the TCP agency API.
type agencyFlags struct {
	config, addr, operator string
}

func addAgencyFlags(cmd *cobra.Command) *agencyFlags {
	a := &agencyFlags{}
	cmd.Flags().StringVar(&a.config, "config", defaultConfig(), "the node's config file (or set JIEXU_CONFIG; default /etc/jiexu/node.json when it exists): talk to its unix socket")
	cmd.Flags().StringVar(&a.addr, "agency", os.Getenv("JIEXU_AGENCY"), "the node's agency address instead of --config: unix:PATH, or HOST:PORT of agency_tls_listen with --operator")
	cmd.Flags().StringVar(&a.operator, "operator", os.Getenv("JIEXU_OPERATOR"), "your operator folder (from 'jiexu operator issue') for a HOST:PORT --agency")
	_ = cmd.MarkFlagFilename("config", "json")
	_ = cmd.MarkFlagDirname("operator")
	return a
}

// defaultConfig is $JIEXU_CONFIG when set (even to ""), else the system
// layout's node.json when it exists, else "".
func defaultConfig() string {
	if c, ok := os.LookupEnv("JIEXU_CONFIG"); ok {
		return c
	}
	if p := filepath.Join(node.SystemConfigDir, node.ConfigFile); fileExists(p) {
		return p
	}
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// dial connects to the node's agency API.
func (a *agencyFlags) dial() (jiexuv1.AgencyServiceClient, func(), error) {
	c, conn, err := a.dialConn()
	if err != nil {
		return nil, nil, err
	}
	return c, func() { conn.Close() }, nil
}

// dialConn connects to the node's agency listener (the agency and audit APIs).
func (a *agencyFlags) dialConn() (jiexuv1.AgencyServiceClient, *grpc.ClientConn, error) {
	target := a.addr
	if target == "" {
		if a.config == "" {
			return nil, nil, usagef("say which node: --config FILE (or JIEXU_CONFIG) or --agency ADDR")
		}
		cfg, err := node.LoadConfig(a.config)
		if err != nil {
			return nil, nil, err
		}
		target = cfg.AgencyAddress()
	}
	var opts []node.DialOption
	if a.operator != "" {
		opts = append(opts, node.WithOperator(a.operator))
	}
	return node.DialAgency(target, opts...)
}

// call runs fn against the node with a bounded context.
func (a *agencyFlags) call(ctx context.Context, fn func(context.Context, jiexuv1.AgencyServiceClient) error) error {
	c, done, err := a.dial()
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return fn(ctx, c)
}

// region returns the region of the node named by --config, or "".
func (a *agencyFlags) region() (string, error) {
	if a.config == "" {
		return "", nil
	}
	cfg, err := node.LoadConfig(a.config)
	if err != nil {
		return "", fmt.Errorf("--config: %w", err)
	}
	return cfg.Region, nil
}
