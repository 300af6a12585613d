package demoapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func do(t *testing.T, h http.Handler, method, path, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(b)
}

func TestUsersCarrySensitiveFields(t *testing.T) {
	h := New().Handler()
	resp, body := do(t, h, "GET", "/users/1", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /users/1: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`"password_hash"`, `"card_number":"4111111111111111"`, `"internal"`, `"orders"`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /users/1 lacks %s: %s", want, body)
		}
	}
	var users []User
	_, body = do(t, h, "GET", "/users", "")
	if err := json.Unmarshal([]byte(body), &users); err != nil || len(users) != 3 {
		t.Fatalf("GET /users: %v, %d users", err, len(users))
	}
}

func TestStatusCodes(t *testing.T) {
	h := New().Handler()
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/users/99", "", 404},
		{"GET", "/users/x", "", 400},
		{"POST", "/users", `{"name":"Edsger","email":"ewd@example.com"}`, 201},
		{"POST", "/users", `{"name":"x","bogus":1}`, 400},
		{"POST", "/users", `{"email":"noname@example.com"}`, 400},
		{"POST", "/users", `{"name":"` + strings.Repeat("a", maxBody) + `"}`, 413},
		{"DELETE", "/users/1", "", 405},
		{"GET", "/admin/stats", "", 200},
		{"GET", "/nope", "", 404},
	} {
		resp, body := do(t, h, tc.method, tc.path, tc.body)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d (%s)", tc.method, tc.path, resp.StatusCode, tc.want, body)
		}
	}
}

func TestCreatedUserIsListed(t *testing.T) {
	h := New().Handler()
	_, body := do(t, h, "POST", "/users", `{"name":"Edsger"}`)
	var u User
	if err := json.Unmarshal([]byte(body), &u); err != nil || u.ID != 4 {
		t.Fatalf("created %s (%v)", body, err)
	}
	if resp, _ := do(t, h, "GET", "/users/4", ""); resp.StatusCode != 200 {
		t.Errorf("GET /users/4 after create: %d", resp.StatusCode)
	}
}

func TestEchoShowsWhatTheUpstreamReceived(t *testing.T) {
	_, body := do(t, New().Handler(), "GET", "/echo?a=1", "", "X-User", "alice")
	var got struct {
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Path != "/echo?a=1" || got.Headers["x-user"] != "alice" {
		t.Errorf("echo = %+v", got)
	}
}
