// Package foundation tests the compiled plugin's skeleton through the wazero
// host: configuration refusal, pass-through, path normalisation, metrics and
// reconfiguration, the way Envoy would run it.
package foundation

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

var module *wasmhost.Module

func TestMain(m *testing.M) {
	os.Exit(e2eutil.Run(m, wasmhost.Options{LogLevel: wasmhost.LogInfo}, &module))
}

func start(t *testing.T, config string, workers int) *wasmhost.Plugin {
	t.Helper()
	p, err := module.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: []byte(config), Workers: workers,
		AllowOnHeadersStopIteration: true,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// upstream is the protected API; it counts the requests that reach it.
type upstream struct{ hits atomic.Int64 }

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.hits.Add(1)
	w.Header().Set("content-type", "application/json")
	io.WriteString(w, `{"path":"`+r.URL.Path+`"}`)
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	// Built by hand: the path may be one net/url refuses, as a raw client
	// could send it; the host passes RequestURI to the plugin as :path.
	req := httptest.NewRequest("GET", "http://api.example/", nil)
	req.RequestURI = path
	if u, err := url.ParseRequestURI(path); err == nil {
		req.URL = u
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestConfigWithUnknownKeyIsRefusedAtStartNamingThePath(t *testing.T) {
	_, err := module.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: []byte(`{"client_ip": {"trusted_hop": 1}}`),
	})
	if err == nil {
		t.Fatal("a configuration with an unknown key started")
	}
	if !strings.Contains(err.Error(), "client_ip.trusted_hop") {
		t.Errorf("start error %q does not name the JSON path client_ip.trusted_hop", err)
	}
}

func TestPassThroughReachesTheUpstreamAndIsCounted(t *testing.T) {
	p := start(t, `{"telemetry": {"instance": "edge"}}`, 2)
	up := &upstream{}
	h := p.Middleware(up)
	for range 3 {
		rec := get(t, h, "/users/1")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"/users/1"`) {
			t.Fatalf("got %d %q", rec.Code, rec.Body.String())
		}
	}
	if up.hits.Load() != 3 {
		t.Errorf("upstream saw %d requests, want 3", up.hits.Load())
	}
	var prom bytes.Buffer
	if err := p.PrometheusText(&prom); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(prom.String(), "apiguard.edge.http.route._other.requests_total") &&
		!strings.Contains(prom.String(), "requests_total") {
		t.Errorf("no request counter in the admin metrics:\n%s", prom.String())
	}
	names := strings.Join(p.Stats().Names(), "\n")
	if !strings.Contains(names, "edge") {
		t.Errorf("metric names do not carry the instance segment:\n%s", names)
	}
}

func TestPathsThatCannotBeNormalisedAreRefusedBeforeTheUpstream(t *testing.T) {
	p := start(t, `{}`, 1)
	up := &upstream{}
	h := p.Middleware(up)
	for _, path := range []string{"/admin%2f..%2fsecret", "/a%00b", "/%zz"} {
		rec := get(t, h, path)
		if rec.Code != 400 || rec.Header().Get("x-apiguard-reason") != "non_canonical_path" {
			t.Errorf("%s: got %d reason %q, want 400 bad_path", path, rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
		// The reason also travels as the local reply's details, which Envoy
		// logs as %RESPONSE_CODE_DETAILS%.
		if d := rec.Header().Get(wasmhost.DetailsHeader); d != "apiguard_non_canonical_path" {
			t.Errorf("%s: response code details %q, want apiguard_non_canonical_path", path, d)
		}
	}
	if up.hits.Load() != 0 {
		t.Errorf("upstream saw %d refused requests", up.hits.Load())
	}
}

func TestReconfigureWithBadConfigKeepsTheRunningOne(t *testing.T) {
	p := start(t, `{}`, 2)
	err := p.Reconfigure(context.Background(), []byte(`{"rate_limits": [{"name": "x", "limits": [{"requests": 1, "per": "60"}]}]}`))
	if err == nil {
		t.Fatal("a bad configuration was accepted")
	}
	if !strings.Contains(err.Error(), "rate_limits[0].limits[0].per") {
		t.Errorf("reconfigure error %q does not name rate_limits[0].limits[0].per", err)
	}
	up := &upstream{}
	if rec := get(t, p.Middleware(up), "/users/1"); rec.Code != 200 {
		t.Errorf("after a refused reconfiguration: got %d, want the old configuration's 200", rec.Code)
	}
}
