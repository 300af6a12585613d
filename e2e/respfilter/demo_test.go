package respfilter

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/internal/devproxy/demoapi"
)

// TestRecommendedDemoConfig runs the response_filter section proposed for
// the `make run` demo (testdata/demo-response-filter.json) against the demo
// API itself: password hashes, card numbers and internal fields never leave;
// callers whose token has the admin scope also see emails.
func TestRecommendedDemoConfig(t *testing.T) {
	section, err := os.ReadFile("testdata/demo-response-filter.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := `{` + jwtSection() + `, "response_filter": ` + string(section) + `}`
	e := start(t, cfg, opts{held: true}, demoapi.New().Handler().ServeHTTP)
	var secrets []string
	for _, u := range demoapi.Users() {
		secrets = append(secrets, u.PasswordHash, u.CardNumber)
		if u.Internal.Notes != "" {
			secrets = append(secrets, u.Internal.Notes)
		}
	}
	secrets = append(secrets, "db_dsn", "postgres://")
	for _, c := range []struct {
		scope, path string
		name        string // the gjson path of a name every caller sees
		email       string // the gjson path of an email the caller must see, "" for none
	}{
		{"read", "/users", "0.name", ""}, {"read", "/users/1", "name", ""},
		{"read admin", "/users", "0.name", "0.email"}, {"read admin", "/users/1", "name", "email"},
	} {
		r := e.get(t, c.path, "authorization", "Bearer "+token(t, c.scope))
		checkLength(t, r)
		if r.status != 200 {
			t.Fatalf("%s as %q: got %d %s", c.path, c.scope, r.status, r.body)
		}
		for _, s := range secrets {
			if bytes.Contains(r.body, []byte(s)) {
				t.Errorf("%s as %q leaks %q: %s", c.path, c.scope, s, r.body)
			}
		}
		hasEmail := bytes.Contains(r.body, []byte("@example.com"))
		if c.email == "" && hasEmail {
			t.Errorf("%s as %q shows emails: %s", c.path, c.scope, r.body)
		}
		if c.email != "" && !strings.HasSuffix(gjson.GetBytes(r.body, c.email).String(), "@example.com") {
			t.Errorf("%s as %q: no email at %s: %s", c.path, c.scope, c.email, r.body)
		}
		if gjson.GetBytes(r.body, c.name).String() != "Ada Lovelace" {
			t.Errorf("%s as %q: the names are gone: %s", c.path, c.scope, r.body)
		}
	}
	// The API's own errors keep their message.
	r := e.get(t, "/users/99", "authorization", "Bearer "+token(t, "read"))
	if r.status != 404 || gjson.GetBytes(r.body, "error").String() == "" {
		t.Errorf("404 got %d %s", r.status, r.body)
	}
	e.checkLogsClean(t)
}
