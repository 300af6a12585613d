// Package memory drives adversarial traffic through 4 worker VMs of the
// compiled plugin and checks each VM's linear memory against the bound that
// docs/memory.md states. Wasm memory never shrinks, so a VM's size after the
// run is its peak.
package memory

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

var module *wasmhost.Module

func TestMain(m *testing.M) {
	os.Exit(e2eutil.Run(m, wasmhost.Options{LogLevel: wasmhost.LogWarn}, &module))
}

const (
	maxBody   = 1 << 20 // response_filter.max_body_bytes
	workers   = 4
	parallel  = 32 // streams in flight at once, 8 per worker
	rounds    = 3
	maskValue = 1000 // characters of mask_value
)

// config is the attack setup: a mask rule with a 1,000-character
// mask_value, bodies at max_body_bytes, an audit trail that keeps request
// body excerpts, and a rate limit.
var config = `{
  "response_filter": {"rules": [{"match": {"prefix": "/"}, "allow": ["id"], "mode": "mask", "mask_value": "` + strings.Repeat("m", maskValue) + `"}],
                      "max_body_bytes": ` + strconv.Itoa(maxBody) + `, "on_error": "deny"},
  "rate_limits": [{"name": "per_ip", "key": ["client_ip"], "max_keys": 10000, "limits": [{"requests": 1000000, "per": "60s"}]}],
  "telemetry": {"audit": {"sink": "log", "body_excerpt_bytes": 4096}}
}`

// bodies are the adversarial responses, each at or near max_body_bytes.
func bodies() map[string][]byte {
	zeros := []byte("[" + strings.Repeat("0,", maxBody/2-2) + "0]") // max_body_bytes - 1
	var keys bytes.Buffer
	keys.WriteString("{")
	for i := 0; keys.Len() < maxBody-32; i++ {
		if i > 0 {
			keys.WriteByte(',')
		}
		fmt.Fprintf(&keys, `"k%d":0`, i)
	}
	keys.WriteString("}")
	deep := []byte(strings.Repeat("[", maxBody/2-1) + strings.Repeat("]", maxBody/2-1)) // far past max_depth
	nested := []byte(strings.Repeat(`{"a":`, 30) + "1" + strings.Repeat("}", 30))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(keys.Bytes()[:maxBody-64]) // decodes to just under the limit
	zw.Close()
	var bomb bytes.Buffer
	zw = gzip.NewWriter(&bomb)
	zw.Write(bytes.Repeat([]byte(" "), 64<<20)) // 64 MiB of spaces: refused while decoding
	zw.Close()
	small := []byte(`{"id":1,"a":[0,0,0],"b":{"c":"x"}}`)
	return map[string][]byte{
		"zeros": zeros, "keys": keys.Bytes(), "deep": deep, "nested": nested,
		"gzip": gz.Bytes(), "gzip_bomb": bomb.Bytes(), "small": small,
	}
}

// Bound returns the documented per-VM bound (docs/memory.md) for this
// configuration: the VM's memory after start (runtime, configuration,
// tables) plus the body term, 8 × max_body_bytes (one response filtered at
// a time: body, decoded body, output and re-encoded output, each at most
// max_body_bytes plus one mask_value, times two for the Go collector's
// headroom), plus twice the 8 MiB excerpt budget, plus 64 KiB per stream in
// flight.
func bound(start uint64, streams int) uint64 {
	return start + 8*(maxBody+maskValue) + 2*(8<<20) + uint64(streams)*(64<<10)
}

func TestEachVMStaysWithinTheStatedMemoryBound(t *testing.T) {
	p, err := module.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "apiguard-mem",
		Configuration: []byte(config), Workers: workers, AllowOnHeadersStopIteration: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	start := p.MemorySizes()
	bs := bodies()
	names := []string{"zeros", "keys", "deep", "nested", "gzip", "gzip_bomb", "small"}
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("body")
		w.Header().Set("content-type", "application/json")
		if strings.HasPrefix(name, "gzip") {
			w.Header().Set("content-encoding", "gzip")
		}
		w.Write(bs[name])
	})
	srv := httptest.NewServer(p.Middleware(upstream))
	defer srv.Close()
	// Request bodies at the excerpt capture limit, so every stream holds
	// what the audit trail may keep.
	reqBody := `{"note":"` + strings.Repeat("n", 64<<10-16) + `"}`
	statuses := map[string]map[int]int{}
	var mu sync.Mutex
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := names[(i+round)%len(names)]
				res, err := http.Post(srv.URL+"/x?body="+name, "application/json", strings.NewReader(reqBody))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				if statuses[name] == nil {
					statuses[name] = map[int]int{}
				}
				statuses[name][res.StatusCode]++
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	// The amplification and the bombs were refused, the rest filtered.
	for name, want := range map[string]int{"zeros": 502, "keys": 502, "deep": 502, "gzip_bomb": 502, "nested": 200, "small": 200, "gzip": 502} {
		if got := statuses[name]; len(got) != 1 || got[want] == 0 {
			t.Errorf("%s: statuses %v, want all %d", name, got, want)
		}
	}
	if n := p.FailedWorkers(); n != 0 {
		t.Fatalf("%d workers failed", n)
	}
	for i, size := range p.MemorySizes() {
		b := bound(start[i], parallel)
		t.Logf("VM %d: %.1f MiB at start, %.1f MiB after %d adversarial responses (bound %.1f MiB)",
			i, mib(start[i]), mib(size), rounds*parallel, mib(b))
		if size > b {
			t.Errorf("VM %d: linear memory %.1f MiB passes the stated bound %.1f MiB", i, mib(size), mib(b))
		}
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// A VM that reaches the host's memory cap dies, as under Envoy's 1 GiB cap,
// and the failure policy decides what later requests get. The cap here is
// set below what filtering an 8 MiB body needs.
func TestVMOverTheMemoryCapDiesAndTheFailurePolicyDecides(t *testing.T) {
	const capBytes = 24 << 20
	for _, c := range []struct {
		policy wasmhost.FailurePolicy
		later  int // status of a small request after the trap
	}{{wasmhost.FailClosed, 503}, {wasmhost.FailOpen, 200}} {
		mod, err := e2eutil.Compile(wasmhost.Options{LogLevel: wasmhost.LogWarn, MemoryLimitBytes: capBytes})
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(context.Background())
		cfg := `{"response_filter": {"rules": [{"match": {"prefix": "/"}, "allow": ["id"]}], "max_body_bytes": 33554432}}`
		p, err := mod.Start(context.Background(), wasmhost.PluginConfig{
			Name: "apiguard", RootID: "apiguard", VMID: "apiguard-cap", Configuration: []byte(cfg),
			Workers: 1, AllowOnHeadersStopIteration: true, FailurePolicy: c.policy, BufferLimit: 64 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		big := []byte(`{"id":1,"pad":"` + strings.Repeat("x", 30<<20) + `"}`)
		upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("content-type", "application/json")
			if r.URL.Path == "/big" {
				w.Write(big)
				return
			}
			io.WriteString(w, `{"id":2}`)
		})
		h := p.Middleware(upstream)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/big", nil))
		if rec.Code != 503 || p.FailedWorkers() != 1 {
			t.Fatalf("policy %v: a body past the memory cap got %d with %d failed workers; want 503 and a dead VM", c.policy, rec.Code, p.FailedWorkers())
		}
		if sizes := p.MemorySizes(); sizes[0] > capBytes {
			t.Errorf("VM memory %d bytes past the %d-byte cap", sizes[0], capBytes)
		}
		if traps := strings.Join(p.Traps(), "\n"); !strings.Contains(traps, "out of memory") {
			t.Errorf("trap messages do not say out of memory: %.300s", traps)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/small", nil))
		if rec.Code != c.later {
			t.Errorf("policy %v: a request after the trap got %d, want %d", c.policy, rec.Code, c.later)
		}
	}
}
