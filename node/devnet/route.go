package devnet

import (
	"fmt"
	"time"

	"jiexu/registry"
)

// RouteVia points the registry's entries of some regions at other addresses
// (a fault proxy in front of each node, say) and signs a new snapshot;
// nodes pick it up at their next refresh, or at once through
// Directory().Install.
func RouteVia(l *Layout, addrs map[string]string, now time.Time) error {
	snap, err := registry.LoadDirectory(l.RegistryDir)
	if err != nil {
		return err
	}
	for region, addr := range addrs {
		found := false
		for _, n := range snap.GetNodes() {
			if n.GetRegion() == region {
				n.Address, found = addr, true
			}
		}
		if !found {
			return fmt.Errorf("no node %s in the registry", region)
		}
	}
	if err := registry.SaveDirectory(l.RegistryDir, snap); err != nil {
		return err
	}
	return SignRegistry(l, now)
}
