package respfilter

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/canon"
	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/verdict"
)

func newFilter(t testing.TB, js string) *Filter {
	t.Helper()
	var cfg Config
	if err := config.Decode([]byte(js), &cfg); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

func policyFor(t testing.TB, f *Filter, method, path string) *Policy {
	t.Helper()
	return f.Match(&route.Request{Method: method, Path: path, Header: func(string) (string, bool) { return "", false }})
}

const usersConfig = `{
	"rules": [
		{"name": "public", "match": {"prefix": "/users/public"}, "bypass": true},
		{"name": "users", "match": {"prefix": "/users"}, "allow": ["id", "name", "orders.#.id"],
		 "allow_for_claims": [{"claims": [{"claim": "scope", "contains": "admin"}], "allow": ["email", "orders.#.total"]},
		                      {"claims": [{"claim": ["https://example.com/roles"], "any_of": ["auditor"]}], "allow": ["orders.#.internal"]}]},
		{"name": "masked", "match": {"prefix": "/cards"}, "allow": ["id"], "mode": "mask", "mask_value": null, "statuses": ["2xx", 404]}
	],
	"max_body_bytes": 4096,
	"max_depth": 16
}`

const userDoc = `{"id":7,"name":"Ann","email":"a@x","password_hash":"$2b$...","card_number":"4111111111111111",` +
	`"orders":[{"id":1,"total":9.5,"internal":true},{"id":2,"total":1e2}]}`

func jsonMeta() ResponseMeta {
	return ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json; charset=utf-8"}
}

func process(t testing.TB, p *Policy, m ResponseMeta, body []byte, cl map[string]any) ([]byte, Outcome) {
	t.Helper()
	d := p.DecideHeaders(m)
	if d.Action != ActionFilter {
		return nil, Outcome{Action: d.Action, Reason: d.Reason}
	}
	return p.Process(d, body, cl)
}

func TestMatchAndBypass(t *testing.T) {
	f := newFilter(t, usersConfig)
	if p := policyFor(t, f, "GET", "/users/public/x"); p != nil {
		t.Errorf("bypass route got policy %q", p.Name())
	}
	if p := policyFor(t, f, "GET", "/users/7"); p == nil || p.Name() != "users" {
		t.Errorf("/users/7: got %v", p)
	}
	if p := policyFor(t, f, "GET", "/other"); p != nil {
		t.Errorf("unmatched route got policy %q", p.Name())
	}
	if !f.HeadersHeld() || !strings.Contains(f.ModeNote(), "allow_on_headers_stop_iteration") {
		t.Errorf("default mode: held=%v note=%q", f.HeadersHeld(), f.ModeNote())
	}
}

func TestProcessStripsSensitiveFields(t *testing.T) {
	p := policyFor(t, newFilter(t, usersConfig), "GET", "/users/7")
	out, o := process(t, p, jsonMeta(), []byte(userDoc), nil)
	want := `{"id":7,"name":"Ann","orders":[{"id":1},{"id":2}]}`
	if o.Action != ActionReplace || string(out) != want {
		t.Fatalf("got %v %s\nwant %s", o.Action, out, want)
	}
	if o.Removed != 6 {
		t.Errorf("removed %d, want 6", o.Removed)
	}
	wantPaths := "email password_hash card_number orders.#.total orders.#.internal"
	if got := strings.Join(o.RemovedPaths, " "); got != wantPaths {
		t.Errorf("paths %q, want %q", got, wantPaths)
	}
}

func TestProcessAllowForClaims(t *testing.T) {
	admin := map[string]any{"scope": "read admin"}
	p := policyFor(t, newFilter(t, usersConfig), "GET", "/users/7")
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   string
	}{
		{"admin sees more", admin, `{"id":7,"name":"Ann","email":"a@x","orders":[{"id":1,"total":9.5},{"id":2,"total":1e2}]}`},
		{"other scope", map[string]any{"scope": "read"}, `{"id":7,"name":"Ann","orders":[{"id":1},{"id":2}]}`},
		{"auditor", map[string]any{"https://example.com/roles": "auditor"}, `{"id":7,"name":"Ann","orders":[{"id":1,"internal":true},{"id":2}]}`},
		{"admin and auditor", map[string]any{"scope": "admin", "https://example.com/roles": "auditor"},
			`{"id":7,"name":"Ann","email":"a@x","orders":[{"id":1,"total":9.5,"internal":true},{"id":2,"total":1e2}]}`},
		{"scope as a claim array is not split", map[string]any{"scope": []any{"read admin"}}, `{"id":7,"name":"Ann","orders":[{"id":1},{"id":2}]}`},
		{"no token", nil, `{"id":7,"name":"Ann","orders":[{"id":1},{"id":2}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the second pass uses the cached allowlist
				out, o := process(t, p, jsonMeta(), []byte(userDoc), tc.claims)
				if o.Action != ActionReplace || string(out) != tc.want {
					t.Fatalf("got %v %s\nwant %s", o.Action, out, tc.want)
				}
			}
		})
	}
}

func TestProcessMaskModeAndStatuses(t *testing.T) {
	p := policyFor(t, newFilter(t, usersConfig), "GET", "/cards/1")
	m := jsonMeta()
	out, o := process(t, p, m, []byte(`{"id":1,"pan":"4111","x":[1]}`), nil)
	if want := `{"id":1,"pan":null,"x":null}`; string(out) != want || o.Masked != 2 || o.Removed != 0 {
		t.Errorf("got %s masked=%d removed=%d, want %s masked=2", out, o.Masked, o.Removed, want)
	}
	for status, want := range map[int]Action{200: ActionFilter, 299: ActionFilter, 404: ActionFilter, 403: ActionSkip, 500: ActionSkip} {
		m.Status = status
		if d := p.DecideHeaders(m); d.Action != want {
			t.Errorf("status %d: %v, want %v", status, d.Action, want)
		}
	}
}

func TestDecideHeaders(t *testing.T) {
	deny := policyFor(t, newFilter(t, `{"rules":[{"allow":["a"]}],"max_body_bytes":100}`), "GET", "/")
	pass := policyFor(t, newFilter(t, `{"rules":[{"allow":["a"]}],"max_body_bytes":100,"on_error":"allow"}`), "GET", "/")
	tests := []struct {
		name       string
		m          ResponseMeta
		deny, pass Action
		reason     Reason
	}{
		{"json", ResponseMeta{Status: 200, ContentType: "application/json"}, ActionFilter, ActionFilter, ""},
		{"any type is filtered (sniffed later)", ResponseMeta{Status: 200, ContentType: "text/html"}, ActionFilter, ActionFilter, ""},
		{"no content type", ResponseMeta{Status: 200}, ActionFilter, ActionFilter, ""},
		{"gzip", ResponseMeta{Status: 200, ContentEncoding: "GZIP"}, ActionFilter, ActionFilter, ""},
		{"deflate", ResponseMeta{Status: 200, ContentEncoding: "deflate"}, ActionFilter, ActionFilter, ""},
		{"identity", ResponseMeta{Status: 200, ContentEncoding: "identity"}, ActionFilter, ActionFilter, ""},
		{"brotli", ResponseMeta{Status: 200, ContentEncoding: "br"}, ActionDeny, ActionPass, ReasonUnsupportedEncoding},
		{"stacked codings", ResponseMeta{Status: 200, ContentEncoding: "gzip, gzip"}, ActionDeny, ActionPass, ReasonUnsupportedEncoding},
		{"declared length over limit", ResponseMeta{Status: 200, ContentLength: "101"}, ActionDeny, ActionPass, ReasonTooLarge},
		{"huge declared length", ResponseMeta{Status: 200, ContentLength: "99999999999999999999999"}, ActionDeny, ActionPass, ReasonTooLarge},
		{"declared length at limit", ResponseMeta{Status: 200, ContentLength: "100"}, ActionFilter, ActionFilter, ""},
		{"repeated coding header joined", ResponseMeta{Status: 200, ContentEncoding: "identity,gzip"}, ActionDeny, ActionPass, ReasonUnsupportedEncoding},
		{"repeated equal lengths", ResponseMeta{Status: 200, ContentLength: "40, 40"}, ActionFilter, ActionFilter, ""},
		{"repeated equal lengths over limit", ResponseMeta{Status: 200, ContentLength: "101,101"}, ActionDeny, ActionPass, ReasonTooLarge},
		{"conflicting lengths", ResponseMeta{Status: 200, ContentLength: "10,40"}, ActionDeny, ActionPass, ReasonConflictingLength},
		{"HEAD", ResponseMeta{Status: 200, RequestMethod: "HEAD", ContentLength: "9999"}, ActionSkip, ActionSkip, ReasonNoBody},
		{"204", ResponseMeta{Status: 204}, ActionSkip, ActionSkip, ReasonNoBody},
		{"304", ResponseMeta{Status: 304}, ActionSkip, ActionSkip, ReasonNoBody},
		{"500 is filtered by default", ResponseMeta{Status: 500}, ActionFilter, ActionFilter, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deny.DecideHeaders(tt.m)
			if d.Action != tt.deny || d.Reason != tt.reason {
				t.Errorf("on_error deny: %v %q, want %v %q", d.Action, d.Reason, tt.deny, tt.reason)
			}
			d = pass.DecideHeaders(tt.m)
			if d.Action != tt.pass || d.Reason != tt.reason {
				t.Errorf("on_error allow: %v %q, want %v %q", d.Action, d.Reason, tt.pass, tt.reason)
			}
		})
	}
	var nilPolicy *Policy
	if d := nilPolicy.DecideHeaders(ResponseMeta{Status: 200}); d.Action != ActionSkip {
		t.Errorf("nil policy: %v", d.Action)
	}
}

func TestProcessContentTypes(t *testing.T) {
	strict := policyFor(t, newFilter(t, `{"rules":[{"allow":["a"]}]}`), "GET", "/")
	lenient := policyFor(t, newFilter(t, `{"rules":[{"allow":["a"]}],"non_json":"allow"}`), "GET", "/")
	passErr := policyFor(t, newFilter(t, `{"rules":[{"allow":["a"]}],"on_error":"allow"}`), "GET", "/")
	tests := []struct {
		name    string
		ct      string
		body    string
		strict  Action
		lenient Action
		reason  Reason
		out     string
	}{
		{"JSON under text/html is filtered", "text/html", ` {"a":1,"secret":2}`, ActionReplace, ActionReplace, "", `{"a":1}`},
		{"JSON without content type is filtered", "", `[{"a":1}]`, ActionReplace, ActionReplace, "", `[]`},
		{"JSON under octet-stream is filtered", "application/octet-stream", `{"secret":1}`, ActionReplace, ActionReplace, "", `{}`},
		{"problem+json", "application/problem+json", `{"a":1,"detail":"x"}`, ActionReplace, ActionReplace, "", `{"a":1}`},
		{"html is not JSON", "text/html", `<html>{"a":1}</html>`, ActionDeny, ActionPass, ReasonNotJSON, ""},
		{"plain text is not JSON", "text/plain", `hello`, ActionDeny, ActionPass, ReasonNotJSON, ""},
		{"declared JSON scalar is removed", "application/json", `"secret"`, ActionReplace, ActionReplace, "", `null`},
		{"JSON string under text/plain is removed", "text/plain", ` "secret" `, ActionReplace, ActionReplace, "", `null`},
		{"JSON number without content type is removed", "", `42`, ActionReplace, ActionReplace, "", `null`},
		{"text that is almost a JSON string", "text/plain", `"a" b`, ActionDeny, ActionPass, ReasonNotJSON, ""},
		{"declared JSON garbage is malformed", "application/json", `secret`, ActionDeny, ActionDeny, ReasonMalformed, ""},
		{"sniffed malformed JSON fails closed", "text/plain", `{"a":1,,}`, ActionDeny, ActionDeny, ReasonMalformed, ""},
		{"truncated JSON", "application/json", `{"a":1`, ActionDeny, ActionDeny, ReasonMalformed, ""},
		{"BOM then JSON fails closed", "text/plain", "\ufeff{\"a\":1}", ActionDeny, ActionDeny, ReasonMalformed, ""},
		{"form feed then JSON", "text/plain", "\f{\"secret\":1}", ActionDeny, ActionDeny, ReasonMalformed, ""},
		{"XSSI guard then JSON", "application/javascript", ")]}'\n{\"secret\":1}", ActionDeny, ActionDeny, ReasonMalformed, ""},
		{"JSONP", "application/javascript", `cb({"secret":1})`, ActionDeny, ActionDeny, ReasonMalformed, ""},
		{"NDJSON", "application/x-ndjson", "{\"secret\":1}\n{\"secret\":2}\n", ActionDeny, ActionDeny, ReasonMalformed, ""},
		{"gRPC with +json is not JSON", "application/grpc+json", "\x00\x00\x00\x00\x02{}", ActionDeny, ActionPass, ReasonNotJSON, ""},
		{"empty body", "application/json", "", ActionSkip, ActionSkip, ReasonEmpty, ""},
		{"whitespace body", "application/json", " \n", ActionSkip, ActionSkip, ReasonEmpty, ""},
		{"too deep", "application/json", strings.Repeat("[", 65) + strings.Repeat("]", 65), ActionDeny, ActionDeny, ReasonDepth, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ResponseMeta{Status: 200, ContentType: tt.ct}
			out, o := process(t, strict, m, []byte(tt.body), nil)
			if o.Action != tt.strict || o.Reason != tt.reason || string(out) != tt.out {
				t.Errorf("non_json deny: %v %q %q, want %v %q %q", o.Action, o.Reason, out, tt.strict, tt.reason, tt.out)
			}
			_, o = process(t, lenient, m, []byte(tt.body), nil)
			if o.Action != tt.lenient {
				t.Errorf("non_json allow: %v, want %v", o.Action, tt.lenient)
			}
			// on_error lets failures through; a body that is not JSON is
			// non_json's alone to decide.
			if tt.strict == ActionDeny {
				want := ActionPass
				if tt.reason == ReasonNotJSON {
					want = ActionDeny
				}
				if _, o = process(t, passErr, m, []byte(tt.body), nil); o.Action != want || o.Reason != tt.reason {
					t.Errorf("on_error allow: %v %q, want %v %q", o.Action, o.Reason, want, tt.reason)
				}
			}
		})
	}
}

func TestProcessTooLarge(t *testing.T) {
	p := policyFor(t, newFilter(t, `{"rules":[{"allow":["a"]}],"max_body_bytes":16}`), "GET", "/")
	// No declared length: only the body shows the size.
	_, o := process(t, p, jsonMeta(), []byte(`{"a":"0123456789abcdef"}`), nil)
	if o.Action != ActionDeny || o.Reason != ReasonTooLarge {
		t.Errorf("got %v %q, want deny too_large", o.Action, o.Reason)
	}
}

func compress(t testing.TB, enc string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "deflate":
		w = zlib.NewWriter(&b)
	case "rawdeflate":
		w, _ = flate.NewWriter(&b, flate.DefaultCompression)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decompress(t testing.TB, enc string, data []byte) string {
	t.Helper()
	var r io.Reader
	var err error
	switch enc {
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(data))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(data))
	case "rawdeflate":
		r = flate.NewReader(bytes.NewReader(data))
	}
	if err != nil {
		t.Fatalf("%s reader: %v", enc, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s read: %v", enc, err)
	}
	return string(out)
}

func TestProcessCompressed(t *testing.T) {
	p := policyFor(t, newFilter(t, usersConfig), "GET", "/users/7")
	want := `{"id":7,"name":"Ann","orders":[{"id":1},{"id":2}]}`
	for _, tc := range []struct{ header, enc string }{{"gzip", "gzip"}, {"x-gzip", "gzip"}, {"deflate", "deflate"}, {"deflate", "rawdeflate"}} {
		t.Run(tc.enc+"/"+tc.header, func(t *testing.T) {
			m := jsonMeta()
			m.ContentEncoding = tc.header
			out, o := process(t, p, m, compress(t, tc.enc, []byte(userDoc)), nil)
			if o.Action != ActionReplace {
				t.Fatalf("got %v %q", o.Action, o.Reason)
			}
			if got := decompress(t, tc.enc, out); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestProcessCompressionFailures(t *testing.T) {
	p := policyFor(t, newFilter(t, `{"rules":[{"allow":["a"]}],"max_body_bytes":4096}`), "GET", "/")
	bomb := compress(t, "gzip", []byte(`{"a":"`+strings.Repeat("A", 1<<20)+`"}`))
	if len(bomb) > 4096 {
		t.Fatalf("bomb is %d bytes compressed", len(bomb))
	}
	good := compress(t, "gzip", []byte(`{"a":1}`))
	tests := []struct {
		name, enc string
		body      []byte
		reason    Reason
	}{
		{"decompression bomb", "gzip", bomb, ReasonTooLarge},
		{"not gzip", "gzip", []byte(`{"a":1}`), ReasonDecodeFailed},
		{"truncated gzip", "gzip", good[:len(good)-4], ReasonDecodeFailed},
		{"gzip with trailing garbage", "gzip", append(append([]byte(nil), good...), "xyz"...), ReasonDecodeFailed},
		{"not deflate", "deflate", []byte{0xff, 0xff, 0xff}, ReasonDecodeFailed},
		{"empty gzip body is left alone", "gzip", nil, ReasonEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := jsonMeta()
			m.ContentEncoding = tt.enc
			if len(tt.body) == 0 {
				if _, o := process(t, p, m, tt.body, nil); o.Action != ActionSkip {
					t.Errorf("empty %s body: %v", tt.enc, o.Action)
				}
				return
			}
			_, o := process(t, p, m, tt.body, nil)
			if o.Action != ActionDeny || o.Reason != tt.reason {
				t.Errorf("got %v %q, want deny %q", o.Action, o.Reason, tt.reason)
			}
		})
	}
	// Two gzip members are one valid gzip body (RFC 1952 section 2.2).
	m := jsonMeta()
	m.ContentEncoding = "gzip"
	two := append(compress(t, "gzip", []byte(`{"a":1,`)), compress(t, "gzip", []byte(`"b":2}`))...)
	if out, o := process(t, p, m, two, nil); o.Action != ActionReplace || decompress(t, "gzip", out) != `{"a":1}` {
		t.Errorf("multi-member gzip: %v %q", o.Action, o.Reason)
	}
}

func TestErrorReplies(t *testing.T) {
	r := DenyReply(ReasonMalformed)
	if r.Status != 502 || r.ContentType != "application/json" || string(r.Body) != `{"error":"bad_gateway","reason":"malformed_json"}` {
		t.Errorf("DenyReply: %+v %s", r, r.Body)
	}
	p := policyFor(t, newFilter(t, usersConfig), "GET", "/users/1")
	m := jsonMeta()
	if got := string(ErrorDocument(p.DecideHeaders(m), ReasonTooLarge)); got != `{"error":"response_filter_failed","reason":"body_too_large"}` {
		t.Errorf("ErrorDocument identity: %s", got)
	}
	m.ContentEncoding = "gzip"
	doc := ErrorDocument(p.DecideHeaders(m), ReasonMalformed)
	if got := decompress(t, "gzip", doc); got != `{"error":"response_filter_failed","reason":"malformed_json"}` {
		t.Errorf("ErrorDocument gzip: %s", got)
	}
}

func TestUpstreamAcceptEncoding(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "identity",
		"br":                            "identity",
		"gzip, deflate, br, zstd":       "gzip, deflate",
		"br;q=1.0, gzip;q=0.8, *;q=0.1": "gzip;q=0.8",
		"GZIP":                          "GZIP",
		"identity":                      "identity",
		"x-gzip , compress":             "x-gzip",
		" , gzip ,deflate;q=0.5,,":      "gzip, deflate;q=0.5",
		"br,identity":                   "identity",
	} {
		if got := UpstreamAcceptEncoding(in); got != want {
			t.Errorf("UpstreamAcceptEncoding(%q) = %q, want %q", in, got, want)
		}
	}
	// One coding kept or none: the result is the client's or a constant.
	for _, in := range []string{"gzip", "br, gzip;q=0.5", "zstd"} {
		if n := testing.AllocsPerRun(100, func() { UpstreamAcceptEncoding(in) }); n != 0 {
			t.Errorf("UpstreamAcceptEncoding(%q) allocates %.1f times, want 0", in, n)
		}
	}
}

// UpstreamAcceptEncoding's shortcuts give what the scan gives.
func TestUpstreamAcceptEncodingShortcuts(t *testing.T) {
	for _, in := range []string{"", "gzip", "deflate", "identity", "x-gzip"} {
		if got, want := UpstreamAcceptEncoding(in), upstreamAcceptEncoding(in); got != want {
			t.Errorf("UpstreamAcceptEncoding(%q) = %q, the scan gives %q", in, got, want)
		}
	}
}

func TestIsJSONContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "Application/JSON; charset=utf-8": true, "application/problem+json": true,
		"application/vnd.api+json;v=1": true, "text/json": true, "text/html": false, "": false, "+json": false,
		"application/": false, "application/jsonx": false, "application/x-ndjson": false, "/+json": false,
	} {
		if got := IsJSONContentType(ct); got != want {
			t.Errorf("IsJSONContentType(%q) = %v", ct, got)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ js, want string }{
		{`{"rules":[{"allow":["a..b"]}]}`, "rules[0].allow[0]"},
		{`{"rules":[{"allow":["a"],"alow":["b"]}]}`, "alow"},
		{`{"rules":[{"mode":"hide"}]}`, "rules[0].mode"},
		{`{"rules":[{"mask_value":"x"}]}`, "rules[0].mask_value"},
		{`{"rules":[{"mode":"mask","mask_value":{"a":}}]}`, "rules[0]"},
		{`{"rules":[{"statuses":[99]}]}`, "rules[0].statuses[0]"},
		{`{"rules":[{"statuses":["6xx"]}]}`, "rules[0].statuses[0]"},
		{`{"rules":[{"bypass":true,"allow":["a"]}]}`, "rules[0].bypass"},
		{`{"rules":[{"allow_for_claims":[{"allow":["a"]}]}]}`, "rules[0].allow_for_claims[0].claims"},
		{`{"rules":[{"allow_for_claims":[{"when":[{"claim":"scope","contains":"x"}],"allow":["a"]}]}]}`, `rules[0].allow_for_claims[0].when: renamed to "claims"`},
		{`{"rules":[{"allow_for_claims":[{"claims":[{"claim":["scope"],"contains":"x"}]}]}]}`, "rules[0].allow_for_claims[0].allow"},
		{`{"rules":[{"name":"a"},{"name":"a"}]}`, "rules[1].name"},
		{`{"rules":[{},{"name":"rule0"}]}`, "rules[1].name"},
		{`{"on_error":"pass"}`, `on_error: "pass" was renamed to "allow"`},
		{`{"non_json":"error"}`, `non_json: "error" was renamed to "deny"`},
		{`{"non_json":"pass"}`, `non_json: "pass" was renamed to "allow"`},
		{`{"on_error":"open"}`, `on_error: must be "allow" or "deny"`},
		{`{"headers_mode":"auto"}`, "headers_mode"},
		{`{"max_body_bytes":-1}`, "max_body_bytes"},
		{`{"max_body_bytes":1e12}`, "max_body_bytes"},
		{`{"max_depth":5000}`, "max_depth"},
	}
	for _, tt := range tests {
		var cfg Config
		err := config.Decode([]byte(tt.js), &cfg)
		if err == nil {
			_, err = New(cfg)
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one naming %q", tt.js, err, tt.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	f := newFilter(t, `{"rules":[{"match":{"prefix":"/x"},"mode":"mask"}],"headers_mode":"streamed"}`)
	p := policyFor(t, f, "GET", "/x")
	if p.MaxBodyBytes() != DefaultMaxBodyBytes || p.limits.maxDepth != DefaultMaxDepth || string(p.mask) != `"***"` || p.Name() != "rule0" {
		t.Errorf("defaults: max=%d depth=%d mask=%s name=%s", p.MaxBodyBytes(), p.limits.maxDepth, p.mask, p.Name())
	}
	if f.HeadersHeld() || !strings.Contains(f.ModeNote(), "streamed") {
		t.Errorf("streamed mode: held=%v note=%q", f.HeadersHeld(), f.ModeNote())
	}
	var mv MaskValue
	if err := mv.UnmarshalJSON([]byte(` { "redacted" : true } `)); err != nil {
		t.Fatal(err)
	}
	if b, _ := mv.MarshalJSON(); string(b) != `{"redacted":true}` {
		t.Errorf("mask value %s", b)
	}
}

func TestFailure(t *testing.T) {
	deny := policyFor(t, newFilter(t, `{"rules":[{}]}`), "GET", "/")
	pass := policyFor(t, newFilter(t, `{"rules":[{}],"on_error":"allow"}`), "GET", "/")
	if o := deny.Failure(ReasonTooLarge, nil); o.Action != ActionDeny || o.Reason != ReasonTooLarge {
		t.Errorf("deny: %+v", o)
	}
	if o := pass.Failure(ReasonTooLarge, nil); o.Action != ActionPass || o.Reason != ReasonTooLarge {
		t.Errorf("pass: %+v", o)
	}
}

// TestConcurrentProcess runs one policy from many goroutines, as the native
// tests of a multi-worker host would; run it with -race.
func TestConcurrentProcess(t *testing.T) {
	p := policyFor(t, newFilter(t, usersConfig), "GET", "/users/7")
	want := `{"id":7,"name":"Ann","orders":[{"id":1},{"id":2}]}`
	gz := compress(t, "gzip", []byte(userDoc))
	done := make(chan string, 8)
	for g := range 8 {
		go func() {
			m := jsonMeta()
			body := []byte(userDoc)
			if g%2 == 1 {
				m.ContentEncoding = "gzip"
				body = gz
			}
			for range 50 {
				out, o := process(t, p, m, body, map[string]any{"scope": "read"})
				if o.Action != ActionReplace {
					done <- string(o.Reason)
					return
				}
				if g%2 == 1 {
					r, _ := gzip.NewReader(bytes.NewReader(out))
					out, _ = io.ReadAll(r)
				}
				if string(out) != want {
					done <- string(out)
					return
				}
			}
			done <- ""
		}()
	}
	for range 8 {
		if msg := <-done; msg != "" {
			t.Fatal(msg)
		}
	}
}

// TestDesignExample decodes the response_filter section of DESIGN.md as
// written there.
func TestDesignExample(t *testing.T) {
	f := newFilter(t, `{
		"rules": [{"match": {"prefix": "/users"}, "allow": ["id", "name", "orders.#.id"],
		           "allow_for_claims": [{"claims": [{"claim": "scope", "contains": "admin"}], "allow": ["email"]}]}],
		"max_body_bytes": 1048576, "on_error": "deny"
	}`)
	p := policyFor(t, f, "GET", "/users")
	out, o := process(t, p, jsonMeta(), []byte(userDoc), map[string]any{"scope": "admin"})
	if want := `{"id":7,"name":"Ann","email":"a@x","orders":[{"id":1},{"id":2}]}`; string(out) != want {
		t.Errorf("got %v %s, want %s", o.Action, out, want)
	}
}

// gRPC responses to gRPC requests pass unfiltered in every variant; a gRPC
// content type on one side only is filtered (and fails as not JSON), so a
// client cannot skip the filter with a content type alone.
func TestGRPCResponsesPassUnfiltered(t *testing.T) {
	f := newFilter(t, `{"rules":[{"match":{"prefix":"/"},"allow":["id"]}]}`)
	p := policyFor(t, f, "POST", "/pkg.Service/Method")
	for _, ct := range []string{"application/grpc", "application/grpc+proto", "application/grpc+json", "Application/GRPC+json; charset=utf-8",
		"application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text", "application/grpc-web-text+proto"} {
		if d := p.DecideHeaders(ResponseMeta{Status: 200, RequestMethod: "POST", RequestGRPC: true, ContentType: ct}); d.Action != ActionSkip || d.Reason != ReasonGRPC {
			t.Errorf("%s: %+v, want skip", ct, d)
		}
		if d := p.DecideHeaders(ResponseMeta{Status: 200, RequestMethod: "POST", ContentType: ct}); d.Action != ActionFilter {
			t.Errorf("%s to a request that is not gRPC: %+v, want filter", ct, d)
		}
	}
	for _, ct := range []string{"application/json", "application/grpcx", "application/grpc-webx", "text/plain"} {
		if IsGRPCContentType(ct) {
			t.Errorf("%s taken for gRPC", ct)
		}
	}
}

// A rule that matches only gRPC requests is refused at start, with its path.
func TestRuleMatchingOnlyGRPCIsRefused(t *testing.T) {
	for _, hm := range []string{`{"name":"content-type","exact":"application/grpc"}`, `{"name":"Content-Type","prefix":"application/grpc"}`} {
		var c Config
		err := config.Decode([]byte(`{"rules":[{"match":{"prefix":"/","headers":[`+hm+`]},"allow":["id"]}]}`), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), "rules[0].match.headers[0]") || !strings.Contains(err.Error(), "gRPC") {
			t.Errorf("%s: %v", hm, err)
		}
	}
	var c Config
	if err := config.Decode([]byte(`{"rules":[{"match":{"prefix":"/","headers":[{"name":"content-type","exact":"application/grpc","invert":true}]},"allow":["id"]}]}`), &c); err != nil {
		t.Errorf("a rule excluding gRPC refused: %v", err)
	}
}

// The issue-11 amplification: a long mask_value over a body of many small
// values used to make an output hundreds of times the input. The filtered
// output counts against max_body_bytes, and a response that would pass it
// is an on_error failure (too_large), found without building the output.
func TestMaskOutputIsBounded(t *testing.T) {
	long := strings.Repeat("m", 1000)
	f := newFilter(t, `{"rules":[{"allow":["id"],"mode":"mask","mask_value":"`+long+`"}],"max_body_bytes":1048576}`)
	p := policyFor(t, f, "GET", "/")
	d := p.DecideHeaders(ResponseMeta{RequestMethod: "GET", Status: 200, ContentType: "application/json"})
	body := []byte("[" + strings.Repeat("0,", 200_000) + "0]") // 400 KB of zeros: 200 MB masked
	out, o := p.Process(d, body, nil)
	if o.Action != ActionDeny || o.Reason != ReasonTooLarge || out != nil {
		t.Fatalf("amplified output: action %v reason %v, %d bytes; want deny too_large", o.Action, o.Reason, len(out))
	}
	// The same mask within the bound still filters.
	small := []byte(`{"id":1,"a":0,"b":[0,0]}`)
	out, o = p.Process(d, small, nil)
	if o.Action != ActionReplace || !strings.Contains(string(out), long) {
		t.Fatalf("small body: %v %v", o.Action, o.Reason)
	}
	// on_error "allow" lets it through unfiltered instead.
	fp := newFilter(t, `{"rules":[{"allow":["id"],"mode":"mask","mask_value":"`+long+`"}],"on_error":"allow"}`)
	pp := policyFor(t, fp, "GET", "/")
	if _, o := pp.Process(pp.DecideHeaders(ResponseMeta{RequestMethod: "GET", Status: 200, ContentType: "application/json"}), body, nil); o.Action != ActionPass || o.Reason != ReasonTooLarge {
		t.Fatalf("on_error allow: %v %v", o.Action, o.Reason)
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]sniffResult{
		"":        sniffEmpty,
		"  \n":    sniffEmpty,
		" {":      sniffJSON,
		"[":       sniffJSON,
		"<":       sniffOther,
		"\ufeff{": sniffJSON,
		"\ufeff":  sniffOther,
	} {
		if got := sniff([]byte(in)); got != want {
			t.Errorf("sniff(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestMetaFromHeadersSeesEveryCopy(t *testing.T) {
	m := MetaFromHeaders([][2]string{{":status", "200"}, {"Content-Type", "text/plain"},
		{"content-encoding", "identity"}, {"Content-Encoding", "gzip"}, {"content-length", "10"}, {"content-length", "12"}},
		"HEAD", "application/grpc+proto")
	if m.Status != 200 || m.RequestMethod != "HEAD" || !m.RequestGRPC || m.ContentType != "text/plain" ||
		m.ContentEncoding != "identity,gzip" || m.ContentLength != "10,12" {
		t.Errorf("MetaFromHeaders = %+v", m)
	}
}

// TestMetaFromHeadersReadsAsJoinHeaders: every field is the value
// canon.JoinHeaders' map holds, for headers in any case and any repeats,
// and distinct headers are read without an allocation.
func TestMetaFromHeadersReadsAsJoinHeaders(t *testing.T) {
	names := []string{":status", "Content-Type", "content-type", "CONTENT-ENCODING", "content-encoding",
		"Content-Length", "content-length", "x-other", "set-cookie"}
	values := []string{"200", "application/json", "gzip", "12", ""}
	for seed := range 2000 {
		var pairs [][2]string
		for i, n := 0, seed%7; i < n; i++ {
			k := (seed*31 + i*17) % len(names)
			pairs = append(pairs, [2]string{names[k], values[(seed+i)%len(values)]})
		}
		hs := canon.JoinHeaders(pairs)
		status, _ := strconv.Atoi(hs[":status"])
		want := ResponseMeta{RequestMethod: "GET", ContentType: hs["content-type"],
			ContentEncoding: hs["content-encoding"], ContentLength: hs["content-length"], Status: status}
		if got := MetaFromHeaders(pairs, "GET", ""); got != want {
			t.Fatalf("MetaFromHeaders(%q) = %+v, want %+v", pairs, got, want)
		}
	}
	pairs := [][2]string{{":status", "200"}, {"content-type", "application/json"}, {"content-length", "12"}, {"date", "x"}}
	if n := testing.AllocsPerRun(100, func() { MetaFromHeaders(pairs, "GET", "") }); n != 0 {
		t.Errorf("MetaFromHeaders allocates %.1f times for distinct headers, want 0", n)
	}
}

func TestOutcomeVerdict(t *testing.T) {
	for _, c := range []struct {
		o        Outcome
		decision verdict.Decision
		reason   verdict.Reason
		counted  bool
	}{
		{Outcome{Action: ActionReplace}, verdict.Allow, verdict.Filtered, true},
		{Outcome{Action: ActionPass, Reason: ReasonNotJSON}, verdict.Allow, ReasonNotJSON, true},
		{Outcome{Action: ActionDeny, Reason: ReasonTooLarge}, verdict.Deny, ReasonTooLarge, true},
		{Outcome{Action: ActionSkip}, "", "", false},
	} {
		d, r, counted := c.o.Verdict()
		if d != c.decision || r != c.reason || counted != c.counted {
			t.Errorf("%+v: Verdict = %s %s %v", c.o, d, r, counted)
		}
	}
}
