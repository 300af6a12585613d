package respfilter

import (
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
