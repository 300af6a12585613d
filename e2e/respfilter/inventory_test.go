package respfilter

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// inventoryConfig filters /notes, leaves /raw unfiltered, and gives card
// numbers the mask policy and private keys the deny policy. The inventory's
// routes are named after the mode: every test plugin shares one vm_id, so
// one shared inventory, as the filters of one Envoy do.
func inventoryConfig(mode string) string {
	return `{"response_filter": {"headers_mode": "` + mode + `", "rules": [
    {"name": "notes", "match": {"prefix": "/notes"}, "allow": ["id", "card", "note", "items.#.card"]}]},
  "response_inventory": {"classes": {"card_number": "mask", "private_key": "deny"},
    "routes": [{"name": "notes_` + mode + `", "match": {"prefix": "/notes"}}, {"name": "raw_` + mode + `", "match": {"prefix": "/raw"}}]}}`
}

const pemKey = `-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----`

// TestSensitiveClassPolicies runs the class policies through the compiled
// plugin: on a filtered route a masked class is replaced in the filter's
// pass and a denied one refuses the response (502 sensitive_data while the
// headers are held, the error document once they left); on an unfiltered
// route the body passes as it came, chunk by chunk, and is counted.
func TestSensitiveClassPolicies(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			bodies := map[string]string{
				"/notes/1": `{"id": 1, "card": "4111 1111 1111 1111", "note": "hi", "secret": "x", "items": [{"card": 5555555555554444}]}`,
				"/notes/2": `{"id": 2, "note": "` + pemKey + `"}`,
				"/raw":     `{"id": 3, "card": "4111111111111111", "ssn": "078-05-1121"}`,
			}
			e := start(t, inventoryConfig(m.name), opts{held: m.held, chunkSize: 7}, func(w http.ResponseWriter, r *http.Request) {
				serve([]byte(bodies[r.URL.Path]), r.URL.Path == "/raw", "content-type", "application/json")(w, r)
			})
			r := e.get(t, "/notes/1")
			if r.status != 200 || gjson.GetBytes(r.body, "card").String() != "*********" ||
				gjson.GetBytes(r.body, "items.0.card").String() != "*********" || gjson.GetBytes(r.body, "note").String() != "hi" ||
				gjson.GetBytes(r.body, "secret").Exists() {
				t.Errorf("masked class: %d %s", r.status, r.body)
			}
			r = e.get(t, "/notes/2")
			switch {
			case strings.Contains(string(r.body), "PRIVATE KEY"):
				t.Errorf("denied class passed: %d %s", r.status, r.body)
			case m.held && (r.status != 502 || r.header.Get("x-apiguard-reason") != "sensitive_data"):
				t.Errorf("denied class, headers held: %d %v %s; want 502 sensitive_data", r.status, r.header, r.body)
			case !m.held && !strings.Contains(string(r.body), "sensitive_data"):
				t.Errorf("denied class, headers streamed: %d %s; want the error document", r.status, r.body)
			}
			r = e.get(t, "/raw")
			if r.status != 200 || string(r.body) != bodies["/raw"] {
				t.Errorf("unfiltered route changed: %d %s", r.status, r.body)
			}
			// Counted by route and class once the streams are done.
			notes, raw := "notes_"+m.name, "raw_"+m.name
			want := map[string]uint64{
				"inventory.route." + notes + ".class.card_number.sensitive_values_total": 2,
				"inventory.route." + notes + ".class.private_key.sensitive_values_total": 1,
				"inventory.route." + raw + ".class.card_number.sensitive_values_total":   1,
				"inventory.route." + raw + ".class.ssn.sensitive_values_total":           1,
				"security.route." + notes + ".sensitive_exposures_total":                 1,
				"security.route." + raw + ".sensitive_exposures_total":                   1,
			}
			deadline := time.Now().Add(5 * time.Second)
			for name, n := range want {
				for {
					v, _ := e.plugin.Stats().Counter("apiguard." + e.instance + "." + name)
					if v == n || time.Now().After(deadline) {
						if v != n {
							t.Errorf("%s = %d, want %d", name, v, n)
						}
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			for _, l := range e.plugin.Logs() {
				s := strings.ReplaceAll(strings.ReplaceAll(l.Message, " ", ""), "-", "")
				if strings.Contains(s, "4111111111111111") || strings.Contains(s, "5555555555554444") || strings.Contains(s, "MIIEvQ") {
					t.Errorf("a sensitive value reached the plugin log: %s", l.Message)
				}
			}
		})
	}
}

// TestSensitiveKeysEvasionsAndOnErrorAllow runs issue 14's attacker review
// through the compiled plugin, with on_error and non_json "allow": a card
// number as an object key is masked (the key replaced) and an SSN as a key
// denied; a card written as an exponent number or behind a zero-width
// space is masked; a body that breaks after a denied value, or text
// holding a card, is refused as sensitive_data instead of passing whole,
// while a broken body with nothing sensitive still passes as on_error
// says; on an unfiltered route an SSN key is counted by route and class.
func TestSensitiveKeysEvasionsAndOnErrorAllow(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			config := `{"response_filter": {"headers_mode": "` + m.name + `", "on_error": "allow", "non_json": "allow", "rules": [
    {"name": "sec", "match": {"prefix": "/sec"}, "allow": ["id", "by_card", "card", "note"]}]},
  "response_inventory": {"classes": {"card_number": "mask", "ssn": "deny"},
    "routes": [{"name": "sec_` + m.name + `", "match": {"prefix": "/sec"}}, {"name": "open_` + m.name + `", "match": {"prefix": "/open"}}]}}`
			bodies := map[string]string{
				"/sec/keys":   `{"id":1,"by_card":{"4111111111111111":{"exp":"12/30"},"5555555555554444":{"exp":"01/31"}}}`,
				"/sec/ssnkey": `{"id":2,"by_card":{"078-05-1120":1}}`,
				"/sec/num":    `{"id":3,"card":4.111111111111111e15}`,
				"/sec/zw":     `{"id":4,"note":"\u200b4111\u200b111111111111"}`,
				"/sec/broken": `{"id":5,"note":"4111111111111111","x":}`,
				"/sec/early":  `{"id":5,"x":,"note":"078-05-1120"}`,
				"/sec/text":   `[card 4111111111111111`,
				"/sec/benign": `{"id":6,"x":}`,
				"/open":       `{"by_ssn":{"078-05-1120":{"n":1}}}`,
			}
			e := start(t, config, opts{held: m.held, chunkSize: 7}, func(w http.ResponseWriter, r *http.Request) {
				ct := "application/json"
				if r.URL.Path == "/sec/text" {
					ct = "text/plain"
				}
				serve([]byte(bodies[r.URL.Path]), r.URL.Path == "/open", "content-type", ct)(w, r)
			})
			refused := func(path string, r response) {
				t.Helper()
				switch {
				case strings.Contains(string(r.body), "078-05-1120") || strings.Contains(string(r.body), "4111"):
					t.Errorf("%s: the value passed: %d %s", path, r.status, r.body)
				case m.held && (r.status != 502 || r.header.Get("x-apiguard-reason") != "sensitive_data"):
					t.Errorf("%s, headers held: %d %v %s; want 502 sensitive_data", path, r.status, r.header, r.body)
				case !m.held && !strings.Contains(string(r.body), "sensitive_data"):
					t.Errorf("%s, headers streamed: %d %s; want the error document", path, r.status, r.body)
				}
			}
			r := e.get(t, "/sec/keys")
			if r.status != 200 || strings.Contains(string(r.body), "4111") || strings.Contains(string(r.body), "5555") ||
				!gjson.ValidBytes(r.body) || gjson.GetBytes(r.body, `by_card.\*\*\*\*\*\*\*\*\*.exp`).String() == "" {
				t.Errorf("card keys: %d %s", r.status, r.body)
			}
			refused("/sec/ssnkey", e.get(t, "/sec/ssnkey"))
			for _, p := range []string{"/sec/num", "/sec/zw"} {
				r := e.get(t, p)
				if r.status != 200 || strings.Contains(string(r.body), "4111") || strings.Contains(string(r.body), "e15") || !strings.Contains(string(r.body), "*********") {
					t.Errorf("%s: %d %s", p, r.status, r.body)
				}
			}
			refused("/sec/broken", e.get(t, "/sec/broken"))
			refused("/sec/early", e.get(t, "/sec/early"))
			refused("/sec/text", e.get(t, "/sec/text"))
			if r := e.get(t, "/sec/benign"); r.status != 200 || string(r.body) != bodies["/sec/benign"] {
				t.Errorf("a broken body with nothing sensitive, on_error allow: %d %s", r.status, r.body)
			}
			if r := e.get(t, "/open"); r.status != 200 || string(r.body) != bodies["/open"] {
				t.Errorf("unfiltered route changed: %d %s", r.status, r.body)
			}
			name := "apiguard." + e.instance + ".inventory.route.open_" + m.name + ".class.ssn.sensitive_values_total"
			deadline := time.Now().Add(5 * time.Second)
			for {
				v, _ := e.plugin.Stats().Counter(name)
				if v == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("%s = %d, want 1", name, v)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, l := range e.plugin.Logs() {
				s := strings.ReplaceAll(l.Message, "\u200b", "")
				if strings.Contains(s, "4111111111111111") || strings.Contains(s, "078-05-1120") {
					t.Errorf("a sensitive value reached the plugin log: %s", l.Message)
				}
			}
		})
	}
}

// TestFullInventoryStillSignalsAFirstExposure fills the shared inventory
// (max_entries 1) with one route's plain fields, then sends a card number
// on another route: its field cannot be stored, yet the route's first
// sensitive class raises the security signal, through the compiled plugin.
func TestFullInventoryStillSignalsAFirstExposure(t *testing.T) {
	config := `{"response_inventory": {"max_entries": 1, "routes": [
    {"name": "fill_table", "match": {"prefix": "/fill"}}, {"name": "pay_full", "match": {"prefix": "/pay"}}]}}`
	var fill strings.Builder
	fill.WriteString("{")
	for i := range 40 {
		fmt.Fprintf(&fill, `"plain_%c%c":1,`, 'a'+i/26, 'a'+i%26)
	}
	fill.WriteString(`"z":1}`)
	bodies := map[string]string{"/fill": fill.String(), "/pay": `{"customer_card_on_file":"4111111111111111"}`}
	e := start(t, config, opts{held: true}, func(w http.ResponseWriter, r *http.Request) {
		serve([]byte(bodies[r.URL.Path]), false, "content-type", "application/json")(w, r)
	})
	prefix := "apiguard." + e.instance + "."
	waitCounter := func(name string, ok func(uint64) bool) uint64 {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			v, _ := e.plugin.Stats().Counter(prefix + name)
			if ok(v) || time.Now().After(deadline) {
				return v
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if r := e.get(t, "/fill"); r.status != 200 {
		t.Fatalf("/fill: %d", r.status)
	}
	if v := waitCounter("inventory.dropped_total", func(v uint64) bool { return v > 0 }); v == 0 {
		t.Fatal("the inventory did not fill: the test needs a full table")
	}
	if r := e.get(t, "/pay"); r.status != 200 || string(r.body) != bodies["/pay"] {
		t.Fatalf("/pay: %d %s", r.status, r.body)
	}
	if v := waitCounter("security.route.pay_full.sensitive_exposures_total", func(v uint64) bool { return v == 1 }); v != 1 {
		t.Errorf("security.route.pay_full.sensitive_exposures_total = %d, want 1 with the table full", v)
	}
	if r := e.get(t, "/pay"); r.status != 200 {
		t.Fatalf("/pay again: %d", r.status)
	}
	time.Sleep(200 * time.Millisecond)
	if v, _ := e.plugin.Stats().Counter(prefix + "security.route.pay_full.sensitive_exposures_total"); v != 1 {
		t.Errorf("the exposure was signalled %d times, want once", v)
	}
}

// TestStatusTheFilterSkipsIsObserved: a response the filter leaves alone
// on its route (a status its rule does not list) is not held, so it is
// observed as an unfiltered route's is: its card number is counted.
func TestStatusTheFilterSkipsIsObserved(t *testing.T) {
	config := `{"response_filter": {"rules": [{"name": "ok_only", "match": {"prefix": "/err"}, "allow": ["id"], "statuses": ["2xx"]}]},
  "response_inventory": {"routes": [{"name": "err_route", "match": {"prefix": "/err"}}]}}`
	body := `{"id":1,"card":"4111111111111111"}`
	e := start(t, config, opts{held: true}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(500)
		w.Write([]byte(body))
	})
	if r := e.get(t, "/err"); r.status != 500 || string(r.body) != body {
		t.Fatalf("/err: %d %s", r.status, r.body)
	}
	name := "apiguard." + e.instance + ".inventory.route.err_route.class.card_number.sensitive_values_total"
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _ := e.plugin.Stats().Counter(name)
		if v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want 1", name, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCompressedBodiesAreObservedOnUnfilteredRoutes: through the compiled
// plugin, a gzip or deflate JSON body on an unfiltered route passes
// unchanged (still compressed) while the inventory decodes it chunk by
// chunk and counts its card number; a corrupt gzip body, and one in a
// coding apiguard does not decode (br), pass unchanged too and are counted
// as not observed, by reason.
func TestCompressedBodiesAreObservedOnUnfilteredRoutes(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			config := `{"response_filter": {"headers_mode": "` + m.name + `", "rules": [{"name": "f", "match": {"prefix": "/filtered"}, "allow": ["id"]}]},
  "response_inventory": {"routes": [{"name": "gz_` + m.name + `", "match": {"prefix": "/gz"}}]}}`
			doc := []byte(`{"id":1,"items":[` + strings.Repeat(`{"sku":"a-1","qty":2},`, 200) + `{"card":"4111 1111 1111 1111"}]}`)
			gz := gzipBytes(t, doc)
			corrupt := bytes.Clone(gz)
			corrupt[len(corrupt)/2] ^= 0xff
			bodies := map[string][]byte{"/gz/gzip": gz, "/gz/deflate": zlibBytes(t, doc), "/gz/corrupt": corrupt, "/gz/br": []byte("\x1b\x03\x00\xf8not really brotli")}
			codings := map[string]string{"/gz/gzip": "gzip", "/gz/deflate": "deflate", "/gz/corrupt": "gzip", "/gz/br": "br"}
			e := start(t, config, opts{held: m.held, chunkSize: 7}, func(w http.ResponseWriter, r *http.Request) {
				serve(bodies[r.URL.Path], true, "content-type", "application/json", "content-encoding", codings[r.URL.Path])(w, r)
			})
			for _, p := range []string{"/gz/gzip", "/gz/deflate", "/gz/corrupt", "/gz/br"} {
				r := e.get(t, p, "accept-encoding", "gzip, deflate, br")
				if r.status != 200 || !bytes.Equal(r.body, bodies[p]) || r.header.Get("content-encoding") != codings[p] {
					t.Errorf("%s: %d %q, %d bytes: the body changed", p, r.status, r.header.Get("content-encoding"), len(r.body))
				}
			}
			prefix := "apiguard." + e.instance + "."
			want := map[string]uint64{
				"inventory.route.gz_" + m.name + ".class.card_number.sensitive_values_total": 2,
				"inventory.route.gz_" + m.name + ".observed_responses_total":                 2,
				"inventory.reason.decode_failed.unobserved_responses_total":                  1,
				"inventory.reason.unsupported_encoding.unobserved_responses_total":           1,
			}
			deadline := time.Now().Add(5 * time.Second)
			for name, n := range want {
				for {
					v, _ := e.plugin.Stats().Counter(prefix + name)
					if v == n || time.Now().After(deadline) {
						if v != n {
							t.Errorf("%s = %d, want %d", name, v, n)
						}
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			e.checkLogsClean(t)
		})
	}
}

// TestObservationOfASmallGzipOfManyCardsIsBounded: the attacker review's
// body, a ~40 KB gzip of ~883k card numbers (~16 MB decoded), once held a
// worker ~15 s on an unfiltered route while every value was classified.
// Through the compiled plugin it passes unchanged, observation stops after
// 1 MiB decoded (far fewer values classified than the body holds) and the
// response is counted as not observed, body_too_large.
func TestObservationOfASmallGzipOfManyCardsIsBounded(t *testing.T) {
	const cards = 883_000
	config := `{"response_inventory": {"routes": [{"name": "bomb", "match": {"prefix": "/bomb"}}]}}`
	body := gzipBytes(t, []byte("["+strings.Repeat(`"4111111111111111",`, cards-1)+`"4111111111111111"]`))
	e := start(t, config, opts{}, func(w http.ResponseWriter, r *http.Request) {
		serve(body, true, "content-type", "application/json", "content-encoding", "gzip")(w, r)
	})
	r := e.get(t, "/bomb", "accept-encoding", "gzip")
	if r.status != 200 || !bytes.Equal(r.body, body) {
		t.Fatalf("%d, %d bytes: the body changed", r.status, len(r.body))
	}
	prefix := "apiguard." + e.instance + "."
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _ := e.plugin.Stats().Counter(prefix + "inventory.reason.body_too_large.unobserved_responses_total")
		if v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("body_too_large unobserved responses = %d, want 1", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	seen, _ := e.plugin.Stats().Counter(prefix + "inventory.route.bomb.class.card_number.sensitive_values_total")
	if seen == 0 || seen > (1<<20)/19+1 {
		t.Errorf("%d card numbers classified of %d: want some, and none past the first MiB", seen, cards)
	}
	t.Logf("%d of %d card numbers classified", seen, cards)
	e.checkLogsClean(t)
}

// TestObservationBoundIsConfigurable: through the compiled plugin, with
// max_observed_bytes at 64 KiB a 100 KiB JSON body on an unfiltered route
// passes unchanged and is counted as not observed, body_too_large; its card
// before the bound is counted, and a 32 KiB body is observed to its end.
func TestObservationBoundIsConfigurable(t *testing.T) {
	config := `{"response_inventory": {"routes": [{"name": "big", "match": {"prefix": "/big"}}], "max_observed_bytes": 65536}}`
	doc := func(n int) []byte {
		head, tail := `[{"card":"4111111111111111"},"`, `"]`
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	big, small := doc(100<<10), doc(32<<10)
	e := start(t, config, opts{}, func(w http.ResponseWriter, r *http.Request) {
		body := small
		if r.URL.Query().Get("size") == "big" {
			body = big
		}
		serve(body, true, "content-type", "application/json")(w, r)
	})
	prefix := "apiguard." + e.instance + ".inventory."
	for _, c := range []struct {
		query      string
		body       []byte
		unobserved uint64
	}{{"small", small, 0}, {"big", big, 1}} {
		r := e.get(t, "/big?size="+c.query)
		if r.status != 200 || !bytes.Equal(r.body, c.body) {
			t.Fatalf("%s: %d, %d bytes: the body changed", c.query, r.status, len(r.body))
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			cards, _ := e.plugin.Stats().Counter(prefix + "route.big.class.card_number.sensitive_values_total")
			tooLarge, _ := e.plugin.Stats().Counter(prefix + "reason.body_too_large.unobserved_responses_total")
			observed, _ := e.plugin.Stats().Counter(prefix + "route.big.observed_responses_total")
			if cards == 1+c.unobserved && tooLarge == c.unobserved && observed == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %d cards, %d body_too_large, %d observed: want %d, %d, 1", c.query, cards, tooLarge, observed, 1+c.unobserved, c.unobserved)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	e.checkLogsClean(t)
}
