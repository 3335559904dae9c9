//go:build !linux

package backlog

import "errors"

func evict(string) error { return errors.New("--cold needs Linux (posix_fadvise)") }
