// Package jwtauth authenticates requests with JSON Web Tokens: it extracts
// tokens from the configured places, verifies them with go-jose against
// configured keys only, applies per-route requirements and claim rules, and
// answers failures as RFC 6750 says. It is pure Go: the plugin feeds it
// requests, keys and the current time, and applies the Result.
//
// How the plugin drives it, per worker (root context):
//
//   - configure: decode the `jwt` section with config.Decode into a Config,
//     call New (log Authenticator.Warnings), and NewRemote: a jwks.Manager
//     over shared data for RemoteSources(cfg), with the Waits of requests
//     paused for it. Start nothing here: the configuration canary VM is
//     thrown away.
//   - every tick: Manager.Poll; dispatch its Fetches with proxy_http_call
//     and pass each answer (status 0 when the call failed) to
//     Manager.OnResponse, dispatching any follow-up Fetches; log Warnings.
//   - request headers: Authenticate with MayWait true.
//     Allow: remove RemoveHeaders, set SetHeaders, rewrite :path with
//     RemoveQueryParams and the cookie header with RemoveCookies; Token
//     carries the claims for rate limits, response filters and audit.
//     Deny: send Status with Body (application/json) and WWWAuthenticate
//     (and Retry-After for 429), flagged as apiguard's own reply.
//     Wait: call Manager.Poll at once, dispatch its Fetches, and pause the
//     request. When Poll or OnResponse lists one of WaitFor in Ready, or
//     WaitTimeout passes, call Authenticate again with MayWait false and
//     apply that answer. Workers that did not fetch learn of new keys on
//     their next Poll, so the tick period (e.g. 200 ms) bounds their extra
//     wait.
//
// Optional cross-worker features take castable tables: ShareVerified (reuse
// another worker's signature checks) and TrackFailures (failed
// authentications per client IP, and the `lockout`).
package jwtauth
