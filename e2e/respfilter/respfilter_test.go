package respfilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

// modes are Envoy's two response-header modes: the plugin's headers_mode
// and the matching allow_on_headers_stop_iteration.
var modes = []struct {
	name string
	held bool
}{{"held", true}, {"streamed", false}}

// counter sums this env's counters whose name ends with suffix.
func (e *env) counter(suffix string) uint64 {
	var n uint64
	for _, name := range e.plugin.Stats().Names() {
		if strings.HasPrefix(name, "wasmcustom.apiguard."+e.instance+".") && strings.HasSuffix(name, suffix) {
			v, _ := e.plugin.Stats().Counter(name)
			n += v
		}
	}
	return n
}

func TestChunkedBodyInManyPiecesIsFilteredAtEveryDepth(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := start(t, baseConfig(m.name, ""), opts{held: m.held, chunkSize: 7},
				serve([]byte(userDoc), true, "content-type", "application/json", "etag", `"v1"`))
			r := e.get(t, "/users/7", "accept-encoding", "gzip, br;q=0.9, zstd", "range", "bytes=0-10")
			checkLength(t, r)
			if r.status != 200 || string(r.body) != userFiltered {
				t.Fatalf("got %d %s\nwant 200 %s", r.status, r.body, userFiltered)
			}
			if m.held && r.header.Get("content-length") == "" {
				t.Error("headers held: the filtered body has no content-length")
			}
			if r.header.Get("etag") != "" {
				t.Errorf("the upstream's etag %q describes the unfiltered body", r.header.Get("etag"))
			}
			seen := e.lastSeen()
			if got := seen.Get("accept-encoding"); got != "gzip" {
				t.Errorf("upstream saw accept-encoding %q, want only what apiguard can decode: gzip", got)
			}
			if seen.Get("range") != "" {
				t.Error("upstream saw the client's range header on a filtered route")
			}
			if got := e.counter("respfilter.fields_removed_total"); got != 7 {
				t.Errorf("fields_removed_total = %d, want 7", got)
			}
			if got := e.counter("decision.allow.reason.filtered.responses_total"); got != 1 {
				t.Errorf("filtered responses = %d, want 1", got)
			}
			e.checkLogsClean(t)
		})
	}
}

func TestGzipAndDeflateBodiesAreFilteredAndRecompressed(t *testing.T) {
	for _, m := range modes {
		for _, c := range []struct {
			coding string
			encode func(testing.TB, []byte) []byte
			decode func(testing.TB, []byte) []byte
		}{{"gzip", gzipBytes, gunzip}, {"deflate", zlibBytes, inflate}} {
			t.Run(m.name+"/"+c.coding, func(t *testing.T) {
				e := start(t, baseConfig(m.name, ""), opts{held: m.held, chunkSize: 64},
					serve(c.encode(t, []byte(userDoc)), false, "content-type", "application/json", "content-encoding", c.coding))
				r := e.get(t, "/users/7", "accept-encoding", c.coding)
				checkLength(t, r)
				if r.status != 200 || r.header.Get("content-encoding") != c.coding {
					t.Fatalf("got %d with content-encoding %q", r.status, r.header.Get("content-encoding"))
				}
				if got := c.decode(t, r.body); string(got) != userFiltered {
					t.Errorf("decoded body %s\nwant %s", got, userFiltered)
				}
			})
		}
	}
}

func TestUndecodableCodingNeverPassesUnfiltered(t *testing.T) {
	for _, m := range modes {
		for _, coding := range []string{"br", "gzip, br", "zstd"} {
			t.Run(m.name+"/"+coding, func(t *testing.T) {
				// A misbehaving upstream ignores Accept-Encoding; the bytes
				// are plain JSON, which a bypass would hand over.
				e := start(t, baseConfig(m.name, ""), opts{held: m.held},
					serve([]byte(userDoc), false, "content-type", "application/json", "content-encoding", coding))
				r := e.get(t, "/users/7", "accept-encoding", "br")
				checkLength(t, r)
				if r.status != 502 || bytes.Contains(r.body, []byte(cardNumber)) {
					t.Fatalf("got %d %s, want a 502 without the body", r.status, r.body)
				}
				if got := gjson.GetBytes(r.body, "error").String(); got == "" {
					t.Errorf("the 502 body %s is not apiguard's JSON error", r.body)
				}
				if got := e.counter("reason.unsupported_encoding.errors_total") + e.counter("reason.decode_failed.errors_total"); got != 1 {
					t.Errorf("encoding errors = %d, want 1", got)
				}
			})
		}
	}
}

func TestJSONUnderAWrongOrMissingContentTypeIsStillFiltered(t *testing.T) {
	for _, m := range modes {
		for _, ct := range []string{"", "text/plain", "text/html; charset=utf-8", "application/octet-stream"} {
			t.Run(m.name+"/"+ct, func(t *testing.T) {
				e := start(t, baseConfig(m.name, ""), opts{held: m.held},
					func(w http.ResponseWriter, r *http.Request) {
						if ct == "" {
							w.Header()["Content-Type"] = nil // no sniffed type either
						} else {
							w.Header().Set("content-type", ct)
						}
						w.Write([]byte("\n  " + userDoc))
					})
				r := e.get(t, "/users/7")
				checkLength(t, r)
				if r.status != 200 || string(r.body) != userFiltered {
					t.Fatalf("got %d %s\nwant 200 %s", r.status, r.body, userFiltered)
				}
			})
		}
	}
}

func TestNonJSONBodyOnAFilteredRouteFollowsNonJSON(t *testing.T) {
	page := []byte("<html>card " + cardNumber + "</html>")
	t.Run("error by default", func(t *testing.T) {
		e := start(t, baseConfig("held", ""), opts{held: true}, serve(page, false, "content-type", "text/html"))
		r := e.get(t, "/users/7")
		checkLength(t, r)
		if r.status != 502 || bytes.Contains(r.body, []byte(cardNumber)) {
			t.Fatalf("got %d %s, want 502", r.status, r.body)
		}
		if got := e.counter("reason.not_json.errors_total"); got != 1 {
			t.Errorf("content_type errors = %d, want 1", got)
		}
	})
	t.Run("pass when opted in", func(t *testing.T) {
		e := start(t, baseConfig("held", `, "non_json": "allow"`), opts{held: true}, serve(page, false, "content-type", "text/html"))
		r := e.get(t, "/users/7")
		checkLength(t, r)
		if r.status != 200 || !bytes.Equal(r.body, page) {
			t.Fatalf("got %d %s, want the page unchanged", r.status, r.body)
		}
		if got := e.counter("decision.allow.reason.not_json.responses_total"); got != 1 {
			t.Errorf("unfiltered responses = %d, want 1", got)
		}
	})
}

func TestMalformedJSONFailsClosedInBothModes(t *testing.T) {
	bad := []byte(`{"id":7,"card_number":"` + cardNumber + `",`)
	t.Run("held: a real 502 with a correct length", func(t *testing.T) {
		e := start(t, baseConfig("held", ""), opts{held: true, chunkSize: 5}, serve(bad, true, "content-type", "application/json"))
		r := e.get(t, "/users/7")
		checkLength(t, r)
		if r.status != 502 || r.header.Get("content-length") == "" || bytes.Contains(r.body, []byte(cardNumber)) {
			t.Fatalf("got %d (content-length %q) %s", r.status, r.header.Get("content-length"), r.body)
		}
		if gjson.GetBytes(r.body, "error").String() == "" {
			t.Errorf("502 body %s is not a JSON error", r.body)
		}
		if got := e.counter("reason.malformed_json.errors_total"); got != 1 {
			t.Errorf("invalid_json errors = %d, want 1", got)
		}
		e.checkLogsClean(t)
	})
	t.Run("streamed: the status left, the body becomes the error document", func(t *testing.T) {
		e := start(t, baseConfig("streamed", ""), opts{held: false, chunkSize: 5}, serve(bad, false, "content-type", "application/json"))
		r := e.get(t, "/users/7")
		checkLength(t, r)
		if r.status != 200 || bytes.Contains(r.body, []byte(cardNumber)) || !json.Valid(r.body) {
			t.Fatalf("got %d %s, want 200 with a JSON error document", r.status, r.body)
		}
		if !bytes.Contains(r.body, []byte("malformed")) {
			t.Errorf("error document %s does not name the reason", r.body)
		}
		e.checkLogsClean(t)
	})
}

func TestOverLimitBodiesFailClosed(t *testing.T) {
	big := []byte(`{"id":1,"card_number":"` + cardNumber + `","pad":"` + strings.Repeat("x", 70000) + `"}`)
	for _, m := range modes {
		t.Run(m.name+"/declared length: 502 at headers time", func(t *testing.T) {
			e := start(t, baseConfig(m.name, ""), opts{held: m.held}, serve(big, false, "content-type", "application/json"))
			r := e.get(t, "/users/1")
			checkLength(t, r)
			if r.status != 502 || bytes.Contains(r.body, []byte(cardNumber)) {
				t.Fatalf("got %d %.200s", r.status, r.body)
			}
			if got := e.counter("reason.body_too_large.errors_total"); got != 1 {
				t.Errorf("too_large errors = %d, want 1", got)
			}
		})
	}
	t.Run("held/undeclared length: 502", func(t *testing.T) {
		e := start(t, baseConfig("held", ""), opts{held: true}, serve(big, true, "content-type", "application/json"))
		r := e.get(t, "/users/1")
		checkLength(t, r)
		if r.status != 502 || bytes.Contains(r.body, []byte(cardNumber)) {
			t.Fatalf("got %d %.200s", r.status, r.body)
		}
	})
	t.Run("streamed/undeclared length: error document, rest dropped", func(t *testing.T) {
		e := start(t, baseConfig("streamed", ""), opts{held: false, chunkSize: 4096}, serve(big, true, "content-type", "application/json"))
		r := e.get(t, "/users/1")
		checkLength(t, r)
		if r.status != 200 || bytes.Contains(r.body, []byte(cardNumber)) || bytes.Contains(r.body, []byte("xxxx")) {
			t.Fatalf("got %d %.200s", r.status, r.body)
		}
		if !json.Valid(r.body) || !bytes.Contains(r.body, []byte("body_too_large")) {
			t.Errorf("body %s is not the too_large error document", r.body)
		}
	})
	t.Run("on_error allow lets it through and counts it", func(t *testing.T) {
		e := start(t, baseConfig("held", `, "on_error": "allow"`), opts{held: true}, serve(big, false, "content-type", "application/json"))
		r := e.get(t, "/users/1")
		checkLength(t, r)
		if r.status != 200 || !bytes.Equal(r.body, big) {
			t.Fatalf("got %d %.100s", r.status, r.body)
		}
		if e.counter("decision.allow.reason.body_too_large.responses_total") != 1 || e.counter("reason.body_too_large.errors_total") != 1 {
			t.Error("an opted-in pass was not counted")
		}
	})
}

// usersList is a top-level array of n user records.
func usersList(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"user %d","email":"u%d@example.com","card_number":"%s","password_hash":"%s","internal":{"flag":true}}`,
			i, i, i, cardNumber, passwordHash)
	}
	b.WriteByte(']')
	return b.Bytes()
}

const listConfigRule = `, "rules": [{"match": {"prefix": "/list"}, "allow": ["#.id", "#.name"]}]`

func listConfig(mode string, maxBody int) string {
	return fmt.Sprintf(`{"response_filter": {"headers_mode": %q, "max_body_bytes": %d%s}}`, mode, maxBody, listConfigRule)
}

func TestTopLevelArrayAndAOneMiBDocument(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			n := (1<<20)/len(usersList(1)) + 1
			doc := usersList(n) // a little over 1 MiB
			// Envoy's buffer limit (per_connection_buffer_limit_bytes) must
			// be at least max_body_bytes.
			e := start(t, listConfig(m.name, 2<<20), opts{held: m.held, bufferLimit: 2 << 20},
				serve(doc, true, "content-type", "application/json"))
			r := e.get(t, "/list")
			checkLength(t, r)
			if r.status != 200 {
				t.Fatalf("got %d %.200s", r.status, r.body)
			}
			var got []map[string]any
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("filtered body is not JSON: %v", err)
			}
			if len(got) != n {
				t.Fatalf("got %d elements, want %d", len(got), n)
			}
			for i, u := range got {
				if len(u) != 2 || u["name"] != fmt.Sprintf("user %d", i) {
					t.Fatalf("element %d = %v, want only id and name", i, u)
				}
			}
			if bytes.Contains(r.body, []byte(cardNumber)) {
				t.Error("a card number survived")
			}
		})
	}
}

func TestAllowForClaimsGivesAdminsMoreAndOwnRepliesAreNotFiltered(t *testing.T) {
	cfg := `{` + jwtSection() + `, "response_filter": ` + strings.TrimPrefix(strings.TrimSuffix(baseConfig("held", ""), "}"), `{"response_filter": `) + `}`
	e := start(t, cfg, opts{held: true}, serve([]byte(userDoc), false, "content-type", "application/json"))

	r := e.get(t, "/users/7", "authorization", "Bearer "+token(t, "read"))
	checkLength(t, r)
	if r.status != 200 || string(r.body) != userFiltered {
		t.Fatalf("reader got %d %s", r.status, r.body)
	}
	r = e.get(t, "/users/7", "authorization", "Bearer "+token(t, "read admin"))
	checkLength(t, r)
	if r.status != 200 || gjson.GetBytes(r.body, "email").String() != adminEmail || bytes.Contains(r.body, []byte(cardNumber)) {
		t.Fatalf("admin got %d %s, want the email and no card number", r.status, r.body)
	}
	// apiguard's own 401 on the same filtered route keeps its error body:
	// the /users allowlist would reduce it to {}.
	r = e.get(t, "/users/7")
	checkLength(t, r)
	if r.status != 401 || gjson.GetBytes(r.body, "error").String() == "" {
		t.Fatalf("own reply got %d %s, want an unfiltered 401 error", r.status, r.body)
	}
	e.checkLogsClean(t)
}

func TestOwn429IsNotFiltered(t *testing.T) {
	cfg := strings.TrimSuffix(baseConfig("held", ""), "}") +
		`, "rate_limits": [{"name": "per_ip", "key": ["client_ip"], "limits": [{"requests": 1, "per": "60s"}]}]}`
	e := start(t, cfg, opts{held: true}, serve([]byte(userDoc), false, "content-type", "application/json"))
	if r := e.get(t, "/users/7"); r.status != 200 || string(r.body) != userFiltered {
		t.Fatalf("first request got %d %s", r.status, r.body)
	}
	r := e.get(t, "/users/7")
	checkLength(t, r)
	if r.status != 429 || len(bytes.TrimSpace(r.body)) <= 2 {
		t.Fatalf("got %d %q, want apiguard's 429 with its body", r.status, r.body)
	}
}

func TestMaskModeKeepsKeysAndReplacesValues(t *testing.T) {
	e := start(t, baseConfig("held", ""), opts{held: true}, serve([]byte(userDoc), false, "content-type", "application/json"))
	r := e.get(t, "/masked/7")
	checkLength(t, r)
	if r.status != 200 || bytes.Contains(r.body, []byte(cardNumber)) || bytes.Contains(r.body, []byte(adminEmail)) {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	for path, want := range map[string]string{
		"id": "7", "password_hash": "[redacted]", "card_number": "[redacted]",
		"orders.0.id": "1", "orders.0.card_number": "[redacted]", "orders.#": "2",
	} {
		if got := gjson.GetBytes(r.body, path).String(); got != want {
			t.Errorf("%s = %q, want %q (body %s)", path, got, want, r.body)
		}
	}
	if got := e.counter("respfilter.fields_masked_total"); got == 0 {
		t.Error("masked fields were not counted")
	}
}

func TestBypassedRouteIsUntouched(t *testing.T) {
	e := start(t, baseConfig("held", ""), opts{held: true},
		serve(gzipBytes(t, []byte(userDoc)), false, "content-type", "application/json", "content-encoding", "br"))
	r := e.get(t, "/public/7", "accept-encoding", "br")
	checkLength(t, r)
	if r.status != 200 || r.header.Get("content-encoding") != "br" {
		t.Fatalf("got %d %q", r.status, r.header.Get("content-encoding"))
	}
	if got := e.lastSeen().Get("accept-encoding"); got != "br" {
		t.Errorf("upstream saw accept-encoding %q on an unfiltered route, want the client's br", got)
	}
}

func TestBodyWithTrailersIsFilteredInTheTrailersCallback(t *testing.T) {
	// The last body callback of a response with trailers does not see end
	// of stream; the trailers callback decides the buffered body, which
	// Envoy shows there (Context::getBuffer with buffering_response_body_).
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := start(t, baseConfig(m.name, ""), opts{held: m.held}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("content-type", "application/json")
				w.Header().Set("trailer", "x-checksum")
				w.Write([]byte(userDoc))
				w.Header().Set("x-checksum", "abc")
			})
			r := e.get(t, "/users/7")
			if bytes.Contains(r.body, []byte(cardNumber)) {
				t.Fatalf("got %d %s: the body passed unfiltered", r.status, r.body)
			}
			if r.err != nil || r.status != 200 || string(r.body) != userFiltered {
				t.Fatalf("got %d %s %v, want the filtered body", r.status, r.body, r.err)
			}
		})
	}
}

// A slow upstream: in streamed mode the status and headers reach the client
// while the upstream is still writing; the body is decided once whole.
func TestStreamedModeSendsHeadersBeforeASlowUpstreamEnds(t *testing.T) {
	release := make(chan struct{})
	var upstreamDone atomic.Bool
	half := len(userDoc) / 2
	e := start(t, baseConfig("streamed", ""), opts{held: false}, func(w http.ResponseWriter, r *http.Request) {
		defer upstreamDone.Store(true)
		w.Header().Set("content-type", "application/json")
		w.Write([]byte(userDoc[:half]))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		w.Write([]byte(userDoc[half:]))
	})
	req, _ := http.NewRequest("GET", e.front.URL+"/users/7", nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if upstreamDone.Load() {
		t.Fatal("the headers reached the client only after the upstream finished")
	}
	if resp.StatusCode != 200 || resp.Header.Get("content-length") != "" {
		t.Fatalf("got %d, content-length %q", resp.StatusCode, resp.Header.Get("content-length"))
	}
	close(release)
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != userFiltered {
		t.Fatalf("got %s %v", body, err)
	}
}

// An upstream that stops mid-body resets the stream: what the plugin held
// never reaches the client, in either mode.
func TestUpstreamStoppingMidBodyNeverLeaksThePart(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := start(t, baseConfig(m.name, ""), opts{held: m.held}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("content-type", "application/json")
				w.Header().Set("content-length", strconv.Itoa(len(userDoc)))
				w.Write([]byte(userDoc[:len(userDoc)-5]))
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			})
			r := e.get(t, "/users/7")
			if bytes.Contains(r.body, []byte(cardNumber)) {
				t.Fatalf("got %d %s: the part passed unfiltered", r.status, r.body)
			}
			if r.err == nil && r.status == 200 {
				t.Fatalf("got a whole 200 response %q from a broken upstream", r.body)
			}
		})
	}
}

func TestHeldConfigWithoutTheEnvoyFlagStallsButNeverLeaks(t *testing.T) {
	// headers_mode "held" behind an Envoy without
	// allow_on_headers_stop_iteration: PAUSE on headers buffers the body
	// without calling the plugin, so the stream waits for the route timeout.
	// The plugin logs the mode it expects at start for this reason.
	e := start(t, baseConfig("held", ""), opts{held: false, timeout: 300 * time.Millisecond},
		serve([]byte(userDoc), false, "content-type", "application/json"))
	r := e.get(t, "/users/7")
	if r.err == nil && (r.status == 200 || bytes.Contains(r.body, []byte(cardNumber))) {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	t.Logf("mismatched mode: status %d, err %v, body %q", r.status, r.err, r.body)
	var noted bool
	for _, l := range e.plugin.LogsAt(wasmhost.LogInfo) {
		noted = noted || strings.Contains(l, "allow_on_headers_stop_iteration")
	}
	if !noted {
		t.Error("the plugin did not say at start which Envoy header mode its config expects")
	}
}

// Streams interleave on one VM as Envoy interleaves them on a worker: every
// response is in flight at once, and each keeps its own identity, policy
// decision and buffered body.
func TestInterleavedStreamsOnOneVMKeepTheirOwnState(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			const n = 8
			var arrived atomic.Int64
			all := make(chan struct{})
			cfg := `{` + jwtSection() + `, "response_filter": ` + strings.TrimPrefix(strings.TrimSuffix(baseConfig(m.name, ""), "}"), `{"response_filter": `) + `}`
			e := start(t, cfg, opts{held: m.held, chunkSize: 64, telemetry: `, "audit": {"sink": "log"}`}, func(w http.ResponseWriter, r *http.Request) {
				if arrived.Add(1) == n {
					close(all)
				}
				select { // every stream is open before any body moves
				case <-all:
				case <-time.After(5 * time.Second):
				}
				w.Header().Set("content-type", "application/json")
				half := len(userDoc) / 2
				w.Write([]byte(userDoc[:half]))
				w.(http.Flusher).Flush()
				time.Sleep(10 * time.Millisecond)
				w.Write([]byte(userDoc[half:]))
			})
			if e.plugin.Workers() != 1 {
				t.Fatalf("%d workers", e.plugin.Workers())
			}
			type result struct {
				admin bool
				id    string
				r     response
			}
			results := make(chan result, n+2)
			for i := range n + 2 {
				go func() {
					id := fmt.Sprintf("req-%d", i)
					path := fmt.Sprintf("/users/%d", i)
					switch {
					case i >= n: // no token: apiguard's own 401, interleaved with the rest
						results <- result{id: id, r: e.get(t, path, "x-request-id", id)}
					case i%2 == 0:
						results <- result{admin: true, id: id, r: e.get(t, path, "x-request-id", id, "authorization", "Bearer "+token(t, "read admin"))}
					default:
						results <- result{id: id, r: e.get(t, path, "x-request-id", id, "authorization", "Bearer "+token(t, "read"))}
					}
				}()
			}
			got := map[string]int{}
			for range n + 2 {
				res := <-results
				got[res.id] = res.r.status
				r := res.r
				if r.err != nil {
					t.Fatalf("read: %v", r.err)
				}
				switch {
				case r.status == 401:
					if gjson.GetBytes(r.body, "error").String() == "" {
						t.Errorf("own 401 lost its body: %s", r.body)
					}
				case res.admin:
					if r.status != 200 || gjson.GetBytes(r.body, "email").String() != adminEmail || bytes.Contains(r.body, []byte(cardNumber)) {
						t.Errorf("admin got %d %s", r.status, r.body)
					}
				default:
					if r.status != 200 || string(r.body) != userFiltered {
						t.Errorf("reader got %d %s", r.status, r.body)
					}
				}
			}
			// Each stream's audit event is its own: its path and the status
			// its client got.
			events := 0
			for _, l := range e.plugin.LogsAt(wasmhost.LogWarn) {
				var ev struct {
					RequestID string  `json:"request_id"`
					Path      string  `json:"path"`
					Status    float64 `json:"status"`
				}
				if !strings.HasPrefix(l, `{"type":"request"`) || json.Unmarshal([]byte(l), &ev) != nil {
					continue
				}
				events++
				var i int
				if _, err := fmt.Sscanf(ev.RequestID, "req-%d", &i); err != nil || ev.Path != fmt.Sprintf("/users/%d", i) || int(ev.Status) != got[ev.RequestID] {
					t.Errorf("audit event %+v, client got %d", ev, got[ev.RequestID])
				}
			}
			if events != n+2 {
				t.Errorf("%d audit events for %d requests", events, n+2)
			}
			e.checkLogsClean(t)
		})
	}
}
