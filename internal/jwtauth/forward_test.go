package jwtauth

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// hostHeaders is a request header map as the host keeps it (pairs, names
// as sent) whose edits can be made to fail, as a host call can: a failed
// edit must never let the request through with the token or a forged
// claim header.
type hostHeaders struct {
	pairs  [][2]string
	failOn string // "remove cookie", "replace :path", "add cookie", "cookies", ...
}

var errHost = errors.New("host refused")

func (h *hostHeaders) fail(op, name string) error {
	if h.failOn == op+" "+name || h.failOn == op {
		return errHost
	}
	return nil
}

func (h *hostHeaders) MayHave(name string) bool {
	return slices.ContainsFunc(h.pairs, func(kv [2]string) bool { return strings.EqualFold(kv[0], name) })
}

func (h *hostHeaders) Get(name string) (string, bool) {
	for _, kv := range h.pairs {
		if strings.EqualFold(kv[0], name) {
			return kv[1], true
		}
	}
	return "", false
}

func (h *hostHeaders) Cookies() ([]string, error) {
	if err := h.fail("cookies", ""); err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range h.pairs {
		if strings.EqualFold(kv[0], "cookie") {
			out = append(out, kv[1])
		}
	}
	return out, nil
}

func (h *hostHeaders) Remove(name string) error {
	if err := h.fail("remove", name); err != nil {
		return err
	}
	h.pairs = slices.DeleteFunc(h.pairs, func(kv [2]string) bool { return strings.EqualFold(kv[0], name) })
	return nil
}

func (h *hostHeaders) Replace(name, value string) error {
	if err := h.fail("replace", name); err != nil {
		return err
	}
	h.pairs = slices.DeleteFunc(h.pairs, func(kv [2]string) bool { return strings.EqualFold(kv[0], name) })
	h.pairs = append(h.pairs, [2]string{name, value})
	return nil
}

func (h *hostHeaders) Add(name, value string) error {
	if err := h.fail("add", name); err != nil {
		return err
	}
	h.pairs = append(h.pairs, [2]string{name, value})
	return nil
}

// allowed is an Allow result that strips the token from the query and a
// cookie, drops a client-forged claim header and sets the verified one.
func allowed() Result {
	return Result{
		Decision:      Allow,
		RemoveHeaders: []string{"x-user", "x-tenant"},
		SetHeaders:    [][2]string{{"x-user", "alice"}},
		RemoveParams:  []string{"access_token"},
		RemoveCookies: []string{"session"},
	}
}

func forwardedRequest() *hostHeaders {
	return &hostHeaders{pairs: [][2]string{
		{":path", "/orders?access_token=T0KEN&page=2"},
		{"cookie", "session=T0KEN; theme=dark"},
		{"cookie", "lang=en"},
		{"x-user", "mallory"},
		{"x-tenant", "forged"},
	}}
}

func TestForwardStripsTheTokenAndForgedHeaders(t *testing.T) {
	h := forwardedRequest()
	res := allowed()
	changed, ok := res.Forward(h)
	if !changed || !ok {
		t.Fatalf("Forward = %v, %v; want changed and ok", changed, ok)
	}
	for _, kv := range h.pairs {
		if strings.Contains(kv[1], "T0KEN") || kv[1] == "mallory" || kv[1] == "forged" {
			t.Errorf("upstream gets %s: %s", kv[0], kv[1])
		}
	}
	if p, _ := h.Get(":path"); p != "/orders?page=2" {
		t.Errorf(":path = %q", p)
	}
	if c, _ := h.Cookies(); len(c) != 1 || c[0] != "theme=dark; lang=en" {
		t.Errorf("cookies = %q", c)
	}
	if u, _ := h.Get("x-user"); u != "alice" {
		t.Errorf("x-user = %q", u)
	}
}

// Every failed edit refuses the request: a failed :path rewrite or cookie
// rewrite would send the token upstream, a failed removal or set a forged
// claim header.
func TestForwardRefusesWhenAnEditFails(t *testing.T) {
	for _, failOn := range []string{"replace :path", "cookies", "remove cookie", "add cookie", "remove x-tenant", "replace x-user"} {
		h := forwardedRequest()
		h.failOn = failOn
		res := allowed()
		if _, ok := res.Forward(h); ok {
			t.Errorf("edit %q failed and the request still passes", failOn)
		}
	}
}

func TestForwardWithNothingToStripChangesNothing(t *testing.T) {
	h := &hostHeaders{pairs: [][2]string{{":path", "/orders"}}}
	res := Result{Decision: Allow, RemoveHeaders: []string{"x-user"}}
	if changed, ok := res.Forward(h); changed || !ok {
		t.Errorf("Forward = %v, %v; want unchanged and ok", changed, ok)
	}
}

func TestReplyHeadersRoundRetryAfterUp(t *testing.T) {
	r := Result{WWWAuthenticate: `Bearer error="invalid_token"`, RetryAfter: 1500 * time.Millisecond}
	want := [][2]string{{"content-type", "application/json"}, {"cache-control", "no-store"},
		{"www-authenticate", `Bearer error="invalid_token"`}, {"retry-after", "2"}}
	if got := r.ReplyHeaders(); !slices.Equal(got, want) {
		t.Errorf("ReplyHeaders = %q, want %q", got, want)
	}
	if got := (&Result{}).ReplyHeaders(); len(got) != 2 {
		t.Errorf("no challenge, no lockout: %q", got)
	}
}
