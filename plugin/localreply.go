package main

import "fmt"

// hostStatusError describes a non-OK Proxy-Wasm status.
func hostStatusError(status uint32) error {
	return fmt.Errorf("host status %d", status)
}
