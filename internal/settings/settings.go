// Package settings is the plugin's whole configuration: the JSON document
// that travels as Envoy's Wasm `configuration` or Istio's `pluginConfig`.
// Each policy owns its section's type and validation; this package composes
// them and decodes the document strictly, so a typo anywhere is refused at
// plugin start with the JSON path of the mistake.
package settings

import (
	"fmt"

	"github.com/apiguard/apiguard/internal/clientip"
	"github.com/apiguard/apiguard/internal/config"
)

// MaxDocumentBytes bounds the configuration document. Real configurations are
// a few KiB; the bound keeps a broken pipeline from handing the VM megabytes.
const MaxDocumentBytes = 1 << 20

// Settings is the plugin configuration.
type Settings struct {
	// Name is the instance name: it is the second segment of every metric
	// name, so two apiguard filters in one Envoy never share a metric.
	// Lowercase letter, then [a-z0-9_]; defaults to Envoy's plugin name.
	Name string `json:"name,omitempty"`
	// ClientIP says how the client address is found: the connection's
	// source.address, or x-forwarded-for through `trusted_hops` proxies.
	ClientIP clientip.Resolver `json:"client_ip"`
}

// Parse decodes and validates a configuration document. An empty document
// is the empty configuration: apiguard passes every request through and
// only observes.
func Parse(data []byte) (*Settings, error) {
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("config: document is %d bytes, the limit is %d", len(data), MaxDocumentBytes)
	}
	s := &Settings{}
	if len(data) == 0 {
		return s, nil
	}
	if err := config.Decode(data, s); err != nil {
		return nil, err
	}
	return s, nil
}
