package main

import (
	"cmp"
	"math"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/internal/jwtauth"
	"github.com/apiguard/apiguard/internal/jwtauth/jwks"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
	"github.com/apiguard/apiguard/internal/verdict"
)

// jwtState is the authentication policy of one plugin configuration on one
// worker. auth is nil when no `jwt` section is configured.
type jwtState struct {
	auth *jwtauth.Authenticator
	// remote drives the remote key sets; nil when every provider has local keys.
	remote *jwtauth.Remote
	// unavailableLogged rate-limits the key-outage warning to one a second
	// per worker: during an outage every request would log it.
	unavailableLogged time.Time
	// routes are the rules' names (jwtauth.Config.RouteNames), by index.
	routes []string
	// scratch is the storage every Authenticate call of this worker
	// reuses: a VM runs one callback at a time, and a Result is used up
	// (applyAllow, applyDeny) before the callback returns.
	scratch jwtauth.Scratch
}

// keySource is the Authenticator's view of the remote key sets: a nil
// interface (not a nil *Manager) when there are none.
func (j *jwtState) keySource() jwtauth.KeySource {
	if j.remote == nil {
		return nil
	}
	return j.remote
}

// configureJWT validates and builds the JWT policy. It starts nothing: the
// first JWKS fetch waits for the first tick, since this runs in Envoy's
// throw-away canary VM too.
func (p *pluginContext) configureJWT(s *settings.Settings) error {
	p.jwt = jwtState{}
	if s.JWT == nil {
		return nil
	}
	auth, err := jwtauth.New(*s.JWT)
	if err != nil {
		return err
	}
	for _, w := range auth.Warnings {
		proxywasm.LogWarnf("apiguard: jwt: %s", w)
	}
	ns := jwtauth.SharedNamespace(p.rootID)
	if err := auth.UseSharedData(sharedData{}, ns); err != nil {
		return err
	}
	p.jwt.auth = auth
	p.jwt.routes = s.JWT.RouteNames()
	p.jwt.remote, err = jwtauth.NewRemote(*s.JWT, sharedData{}, ns)
	return err
}

// tickJWT refreshes remote key sets: adopt what other workers fetched, start
// the fetches that are due, release paused requests whose fetch is over.
func (p *pluginContext) tickJWT(now time.Time) {
	r := p.jwt.remote
	if r == nil {
		return
	}
	p.applyJWKSUpdate(r.Poll(now))
	r.Ages(now, p.metrics.JWKSAge)
}

// applyJWKSUpdate acts on a Poll or OnResponse: logs its warnings (they never
// hold key material), dispatches its fetches and marks its ready providers.
// It reports whether any provider became ready.
func (p *pluginContext) applyJWKSUpdate(u jwks.Update) bool {
	for _, w := range u.Warnings {
		proxywasm.LogWarnf("apiguard: %s", w)
	}
	for _, f := range u.Fetches {
		p.dispatchJWKSFetch(f)
	}
	return p.jwt.remote.Apply(u)
}

// dispatchJWKSFetch sends one JWKS or discovery callout. It runs only in the
// root context (a tick, or the answer of an earlier fetch dispatched from a
// tick), so the SDK delivers the answer whatever happens to the requests
// waiting for it.
func (p *pluginContext) dispatchJWKSFetch(f jwks.Fetch) {
	timeout := uint32(min(f.Timeout.Milliseconds(), math.MaxUint32))
	_, err := proxywasm.DispatchHttpCall(f.Cluster, f.Headers, nil, nil, timeout, func(numHeaders, bodySize, _ int) {
		defer recoverCallback("jwks callout", nil)
		p.onJWKSResponse(f, numHeaders, bodySize)
	})
	if err != nil {
		// An unknown cluster is a configuration mistake Envoy reports only
		// here; the manager backs off as for any failed fetch.
		proxywasm.LogErrorf("apiguard: jwt: provider %q: dispatch jwks fetch to cluster %q: %v", f.Provider, f.Cluster, err)
		p.metrics.JWKSFetchFailed(f.Provider, "call_failed")
		// The tick resumes the streams this releases, after tickJWT.
		p.applyJWKSUpdate(p.jwt.remote.OnResponse(f.ID, 0, nil, time.Now()))
	}
}

// onJWKSResponse hands a callout answer to the Manager, records the
// outcome, and wakes the requests that waited for it.
func (p *pluginContext) onJWKSResponse(f jwks.Fetch, numHeaders, bodySize int) {
	// Envoy keeps the answer on the root context
	// (rootContext()->http_call_response_); make sure it is the effective
	// one before reading it.
	if err := proxywasm.SetEffectiveContext(p.id); err != nil {
		proxywasm.LogDebugf("apiguard: jwt: set root context: %v", err)
	}
	status := 0
	if numHeaders > 0 {
		status = calloutStatus()
	}
	var body []byte
	if status == 200 && bodySize > 0 && bodySize <= jwks.MaxDocumentBytes {
		body, _ = proxywasm.GetHttpCallResponseBody(0, bodySize)
	}
	now := time.Now()
	u := p.jwt.remote.OnResponse(f.ID, status, body, now)
	switch settled, failure := p.jwt.remote.Outcome(f, status, u); {
	case settled && failure == "":
		p.metrics.JWKSFetched(f.Provider)
	case settled:
		p.metrics.JWKSFetchFailed(f.Provider, failure)
	}
	if p.applyJWKSUpdate(u) {
		p.resumeWaiting()
	}
}

// jwtStream is the authentication state of one stream.
type jwtStream struct {
	// token is the first verified token of an allowed request, nil otherwise.
	token *jwtauth.Token
	// clientFailures, on a denial that counts as a failed credential, is the
	// client IP's failed authentications in the current window, across
	// workers (the brute-force signal); 0 otherwise.
	clientFailures int
	// wait is set while the request is paused for keys; kept apart, as
	// few streams ever wait.
	wait *jwtauth.Paused
}

// verifiedClaims returns the claims of the request's verified token, nil
// when the request carried none (or was not authenticated). Later stages
// (rate-limit keys, response filters) read them; they must not modify them.
func (h *httpContext) verifiedClaims() map[string]any {
	if t := h.jwtStream.token; t != nil {
		return t.Claims
	}
	return nil
}

// authFailures returns the brute-force signal of a denied request: the
// client IP's failed authentications in the current window, across workers
// (0 when the denial was not a failed credential).
func (h *httpContext) authFailures() int { return h.jwtStream.clientFailures }

// authenticate is the first request stage: it applies the `jwt` rules.
func (h *httpContext) authenticate() stageResult {
	j := &h.plugin.jwt
	if j.auth == nil {
		return stageNext
	}
	s := &h.jwtStream
	now := h.stageTime()
	mayWait := true
	if s.wait != nil {
		// A wait's deadline is on time.Now's monotonic clock (Start below).
		if !s.wait.MayProceed(&j.remote.Waits, time.Now()) {
			h.plugin.wait(h)
			return stageWait
		}
		s.wait, mayWait = nil, false
	}
	req := h.authnRequest(mayWait)
	res := j.auth.Authenticate(req, j.keySource(), now)
	if res.Rule >= 0 && res.Rule < len(j.routes) {
		h.route = j.routes[res.Rule]
	}
	if res.Decision == jwtauth.Wait && j.remote != nil {
		// Authenticate has recorded the demand with the Manager (Refetch).
		// The fetch itself leaves from the root context on the next tick: a
		// callout dispatched here would belong to this stream, and the SDK
		// drops its answer if the client goes away first, leaving every
		// other request paused on the provider to time out.
		s.wait = j.remote.Start(res, time.Now())
		h.plugin.wait(h)
		return stageWait
	}
	switch res.Decision {
	case jwtauth.Allow:
		if !h.applyAllow(res) {
			h.failClosed()
			return stageReplied
		}
		return stageNext
	case jwtauth.Wait: // cannot happen with MayWait false; never let it through
		h.failClosed()
		return stageReplied
	}
	h.applyDeny(res)
	return stageReplied
}

// authnRequest gathers what the Authenticator reads from the request. All
// request headers are read in one host call; repeated headers are joined
// (cookies with "; ", others with ","), so a second Authorization header
// cannot slip past verification and reach the upstream.
func (h *httpContext) authnRequest(mayWait bool) *jwtauth.Request {
	raw, _ := h.requestHeader(":path")
	_, query, _ := strings.Cut(raw, "?") // no '#': canon refuses it
	h.authnReq = jwtauth.Request{
		Method: h.requestMethod(),
		Path:   h.path,
		Header: h.headerFn,
		Query:  query,
		// The lockout counts a client by its network, as rate limits do
		// (client_ip.ipv6_prefix_length): an IPv6 client owns its /64.
		ClientIP: h.clientNetwork().Addr(),
		Bodiless: h.bodiless,
		MayWait:  mayWait,
		Scratch:  &h.plugin.jwt.scratch,
	}
	return &h.authnReq
}

// applyAllow forwards an allowed request (jwtauth.Result.Forward), records
// the decision and keeps the verified token for later stages. It reports
// false when a header could not be changed: the request must not then reach
// the upstream with a client-forged claim header or the token.
func (h *httpContext) applyAllow(res jwtauth.Result) bool {
	// The header view was read for this decision (authnRequest) and nothing
	// changed the headers since. A header it does not hold is not there to
	// remove, and Forward's changes update the view in place (jwtHeaders),
	// so later stages keep it instead of reading every header again.
	_, ok := res.Forward(jwtHeaders{h: h})
	if !ok {
		return false
	}
	h.jwtStream.token = res.Token
	if t := res.Token; t != nil {
		h.setIdentity(audit.Identity{Issuer: t.Issuer, Subject: t.Subject, KeyID: t.KeyID})
	}
	provider, reason := res.Verdict()
	h.plugin.metrics.Authn(cmp.Or(provider, metrics.NoProvider), verdict.Allow, reason)
	h.addDecision(audit.Decision{Policy: string(verdict.PolicyAuthn), Decision: verdict.Allow, Reason: reason})
	return true
}

// jwtHeaders is jwtauth.RequestHeaders over the host's request headers; it
// logs every failed edit.
type jwtHeaders struct {
	h *httpContext
}

// MayHave answers from the header view when one is held, and otherwise
// (the read failed, or a refused change dropped it) says name may be there.
func (j jwtHeaders) MayHave(name string) bool { return j.h.mayHaveRequestHeader(name) }

func (j jwtHeaders) Get(name string) (string, bool) { return j.h.requestHeader(name) }

func (j jwtHeaders) Cookies() ([]string, error) {
	all, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		return nil, err
	}
	var values []string
	for _, kv := range all {
		if strings.EqualFold(kv[0], "cookie") {
			values = append(values, kv[1])
		}
	}
	return values, nil
}

func (j jwtHeaders) Remove(name string) error {
	return j.h.editRequestHeader("jwt", opRemove, name, "")
}

func (j jwtHeaders) Replace(name, value string) error {
	return j.h.editRequestHeader("jwt", opReplace, name, value)
}

func (j jwtHeaders) Add(name, value string) error {
	return j.h.editRequestHeader("jwt", opAdd, name, value)
}

// applyDeny answers the request as RFC 6750 says, with jwtauth's small JSON
// body, flagged as apiguard's own reply so response policies leave it alone.
func (h *httpContext) applyDeny(res jwtauth.Result) {
	h.jwtStream.clientFailures = res.ClientFailures
	provider, _ := res.Verdict()
	h.plugin.metrics.Authn(cmp.Or(provider, metrics.NoProvider), verdict.Deny, res.Reason)
	h.addDecision(audit.Decision{Policy: string(verdict.PolicyAuthn), Decision: verdict.Deny, Reason: res.Reason})
	if j := &h.plugin.jwt; res.Reason == jwtauth.ReasonJWKSUnavailable && time.Since(j.unavailableLogged) >= time.Second {
		// A key outage, not a bad token: say so in the logs too.
		j.unavailableLogged = time.Now()
		proxywasm.LogWarnf("apiguard: jwt: provider %q: no key set loaded; request denied with jwks_unavailable", res.Provider)
	}
	h.sendOwnReply(uint32(res.Status), res.Reason, res.ReplyHeaders(), res.Body)
}
