package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"jiexu/node"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// agencyFlags name the node a command talks to: --config (or JIEXU_CONFIG) or --agency.
type agencyFlags struct {
	config, addr string
}

func addAgencyFlags(cmd *cobra.Command) *agencyFlags {
	a := &agencyFlags{}
	cmd.Flags().StringVar(&a.config, "config", defaultConfig(), "the node's config file (or set JIEXU_CONFIG; default /etc/jiexu/node.json when it exists)")
	cmd.Flags().StringVar(&a.addr, "agency", "", "the node's agency address (unix:PATH or 127.0.0.1:PORT) instead of --config")
	_ = cmd.MarkFlagFilename("config", "json")
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
	target := a.addr
	if target == "" {
		if a.config == "" {
			return nil, nil, usagef("say which node: --config FILE (or JIEXU_CONFIG) or --agency ADDR")
		}
		cfg, err := node.LoadConfig(a.config)
		if err != nil {
			return nil, nil, err
		}
		target = cfg.AgencyListen
	}
	c, conn, err := node.DialAgency(target)
	if err != nil {
		return nil, nil, err
	}
	return c, func() { conn.Close() }, nil
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
