package grpc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3" // the cluster's typed_extension_protocol_options

	"github.com/apiguard/apiguard/e2e/envoyconfig"
	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
	"github.com/apiguard/apiguard/internal/settings"
)

// The README's gRPC example is valid: the Envoy route and cluster against
// Envoy's own protos, apiguard's configuration against its own validation.
func TestReadmeGRPCExampleIsValid(t *testing.T) {
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## gRPC\n")
	if !ok {
		t.Fatal("README.md has no \"## gRPC\" section")
	}
	yml, js := block(t, section, "yaml"), block(t, section, "json")

	raw, err := envoyconfig.YAMLToJSON([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Routes, Clusters []json.RawMessage }
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Routes) == 0 || len(doc.Clusters) == 0 {
		t.Fatalf("the Envoy example has no routes or clusters: %v", err)
	}
	for _, r := range doc.Routes {
		m := &routev3.Route{}
		if err := envoyconfig.Unmarshal(r, m); err != nil {
			t.Fatal(err)
		}
		if err := envoyconfig.ValidateDeep(m); err != nil {
			t.Error(err)
		}
	}
	for _, c := range doc.Clusters {
		m := &clusterv3.Cluster{}
		if err := envoyconfig.Unmarshal(c, m); err != nil {
			t.Fatal(err)
		}
		if err := envoyconfig.ValidateDeep(m); err != nil {
			t.Error(err)
		}
	}
	if _, err := settings.Parse([]byte(js)); err != nil {
		t.Errorf("the README's apiguard configuration for gRPC is refused: %v", err)
	}
}

// block returns the first fenced block of the given language in s.
func block(t *testing.T, s, lang string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, "```"+lang+"\n")
	if !ok {
		t.Fatalf("no %s block", lang)
	}
	body, _, _ := strings.Cut(rest, "```")
	return body
}
