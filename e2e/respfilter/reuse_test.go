package respfilter

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// reuseCase is one response of TestReusedBodyBlockLeavesNothing: its word
// names its kept member (k.<word>, value v_<word>) and its removed one
// (d_<word>, padLen bytes of the word in capitals), so any byte of one
// response found in another's output, audit event or inventory says whose
// it is.
type reuseCase struct {
	word    string
	padLen  int
	flush   bool // sent chunked by the upstream, in 100-byte writes
	trailer bool // ends with a trailer: filtered in the trailers callback
}

func (c reuseCase) path() string { return "/reuse/" + c.word }

func (c reuseCase) kept() string { return `{"id":1,"k":{"` + c.word + `":"v_` + c.word + `"}}` }

func (c reuseCase) doc() []byte {
	pad := strings.Repeat(strings.ToUpper(c.word), c.padLen/len(c.word)+1)[:c.padLen]
	return []byte(strings.TrimSuffix(c.kept(), "}") + `,"d_` + c.word + `":"` + pad + `"}`)
}

// padMark is the start of the removed value, which nothing may show.
func (c reuseCase) padMark() string { return strings.Repeat(strings.ToUpper(c.word), 3) }

// TestReusedBodyBlockLeavesNothing holds the reused response-body block
// (internal/sdkabi/direct.ResponseBody) to its promise: the host writes
// every filtered body into the same block, which is zeroed once the
// filtering callback is over, so anything that kept a view of a body would
// show zeros or a later response's bytes. Responses of different lengths
// and contents go through one VM: long then short (a read past the short
// one's length would show the long one's bytes), a body sent in pieces
// (many body callbacks), one larger than the block (an allocation of its
// own), one decided in the trailers callback; then a response whose
// audit event is written only after another response's body went through
// the block (its client write is held until then). Each output must be
// its own document filtered, each audit event must carry its own removed
// field and no other response's word, and the inventory must hold exactly
// the paths the responses had.
func TestReusedBodyBlockLeavesNothing(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cases := []reuseCase{
				{word: "alpha", padLen: 20000},
				{word: "bravo", padLen: 300},
				{word: "charlie", padLen: 3000, flush: true},
				{word: "delta", padLen: 300 << 10}, // past the block's 256 KiB
				{word: "echo", padLen: 5000, trailer: true},
				{word: "foxtrot", padLen: 40},
			}
			held, late := reuseCase{word: "golf", padLen: 20000}, reuseCase{word: "hotel", padLen: 200}
			all := append(slices.Clone(cases), held, late)
			byPath := map[string]reuseCase{}
			for _, c := range all {
				byPath[c.path()] = c
			}
			config := `{"response_filter": {"headers_mode": "` + m.name + `", "max_body_bytes": 1048576, "rules": [
    {"name": "reuse", "match": {"prefix": "/reuse"}, "allow": ["id", "k.*"]}]},
  "response_inventory": {"export_interval": "1s", "routes": [{"name": "reuse_` + m.name + `", "match": {"prefix": "/reuse"}}]}}`
			handler := func(w http.ResponseWriter, r *http.Request) {
				c, ok := byPath[r.URL.Path]
				if !ok {
					http.NotFound(w, r)
					return
				}
				if c.trailer {
					w.Header().Set("content-type", "application/json")
					w.Header().Set("trailer", "x-checksum")
					w.Write(c.doc())
					w.Header().Set("x-checksum", "abc")
					return
				}
				serve(c.doc(), c.flush, "content-type", "application/json")(w, r)
			}
			e := start(t, config, opts{held: m.held, chunkSize: 1000, telemetry: `, "audit": {"sink": "log"}`}, handler)
			if e.plugin.Workers() != 1 {
				t.Fatalf("%d workers, want 1: the responses must share one VM's block", e.plugin.Workers())
			}
			for _, c := range cases {
				if r := e.get(t, c.path()); r.err != nil || r.status != 200 || string(r.body) != c.kept() {
					t.Errorf("%s: got %d %.200q %v, want %s", c.word, r.status, r.body, r.err, c.kept())
				}
			}

			// held's client write waits until late's response went through
			// the block, so held's on_log (its audit event, its inventory
			// merge) runs after late's body replaced held's in the block.
			gw := &gatedWriter{header: http.Header{}, reached: make(chan struct{}), gate: make(chan struct{})}
			done := make(chan struct{})
			go func() {
				defer close(done)
				e.plugin.Middleware(http.HandlerFunc(handler)).ServeHTTP(gw, httptest.NewRequest("GET", held.path(), nil))
			}()
			select {
			case <-gw.reached:
			case <-time.After(10 * time.Second):
				t.Fatal("the held response never reached its client")
			}
			if r := e.get(t, late.path()); r.err != nil || r.status != 200 || string(r.body) != late.kept() {
				t.Errorf("%s: got %d %.200q %v, want %s", late.word, r.status, r.body, r.err, late.kept())
			}
			close(gw.gate)
			<-done
			if got := gw.body(); got != held.kept() {
				t.Errorf("%s: got %.200q, want %s", held.word, got, held.kept())
			}

			// Every request event: its own removed field, nothing of another
			// response. Then an inventory export holding exactly their paths.
			removed := map[string][]string{}
			var inventory []string
			deadline := time.Now().Add(15 * time.Second)
			for (len(removed) < len(all) || inventory == nil) && time.Now().Before(deadline) {
				removed, inventory = map[string][]string{}, nil
				for _, ev := range e.auditEvents() {
					switch {
					case ev.Type == "request":
						removed[ev.Path] = ev.RemovedFields
						c := byPath[ev.Path]
						for _, other := range all {
							if other.word != c.word && strings.Contains(ev.line, other.word) {
								t.Errorf("the audit event of %s names %s: %s", c.word, other.word, ev.line)
							}
						}
					case ev.Type == "inventory" && gjson.GetBytes(ev.Inventory, "route").String() == "reuse_"+m.name:
						for _, p := range gjson.GetBytes(ev.Inventory, "fields.#.path").Array() {
							inventory = append(inventory, p.String())
						}
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, c := range all {
				if got, want := removed[c.path()], []string{"d_" + c.word}; !slices.Equal(got, want) {
					t.Errorf("%s: removed_fields %q, want %q", c.word, got, want)
				}
			}
			wantPaths := []string{"id"}
			for _, c := range all {
				wantPaths = append(wantPaths, "k."+c.word)
			}
			slices.Sort(wantPaths)
			slices.Sort(inventory)
			if !slices.Equal(inventory, wantPaths) {
				t.Errorf("inventory of the route: %q, want %q", inventory, wantPaths)
			}
			for _, l := range e.plugin.Logs() {
				if strings.Contains(l.Message, `\u0000`) || strings.ContainsRune(l.Message, 0) {
					t.Errorf("a log line shows zeroed bytes: %.300q", l.Message)
				}
				for _, c := range all {
					if strings.Contains(l.Message, c.padMark()) {
						t.Errorf("a log line shows %s's removed value: %.300s", c.word, l.Message)
					}
				}
			}
		})
	}
}

// gatedWriter is a client whose first body write waits for gate, after
// closing reached: the stream's on_log, which runs once the response is
// written, waits with it.
type gatedWriter struct {
	header  http.Header
	reached chan struct{}
	gate    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (g *gatedWriter) Header() http.Header { return g.header }
func (g *gatedWriter) WriteHeader(int)     {}
func (g *gatedWriter) Flush()              {}

func (g *gatedWriter) Write(b []byte) (int, error) {
	g.once.Do(func() {
		close(g.reached)
		<-g.gate
	})
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(b)
}

func (g *gatedWriter) body() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.String()
}
