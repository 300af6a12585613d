// Package ratelimit applies the plugin's "rate_limits" policies. It is pure
// Go: the plugin supplies the shared-data Store, the request, the clock and
// the callout transport, so everything here is tested natively with a fake
// clock.
//
// # Flow
//
// New compiles the policies over a castable.Store (Proxy-Wasm shared data).
// For each request the plugin calls Limiter.Check with the verified claims
// and the resolved client IP. The Result lists one Outcome per matched policy
// (decision, reason and CAS attempts, for metrics) and the Callouts of global
// policies. The plugin sends each callout with proxy_http_call, pausing the
// stream, passes each answer to Result.ResolveCallout, and then either sends
// Result.Refusal as a local reply or adds Result.Headers to the upstream
// response. When a response completes (on_log / on_done) it calls
// Result.ChargeResponse with the body size; it never does so for apiguard's
// own replies, from any policy.
//
// # Algorithm and exactness
//
// Each window is a GCRA (generic cell rate algorithm) cell: one theoretical
// arrival time (TAT) per window, all windows of a key in one shared-data slot
// of a castable.Table, changed only by a successful CAS. A window
// {requests: q, per: p, burst: b} costs unit = ceil(p/q) per request and
// tolerates (q+b) units of debt: a rested key may send q+b requests at once,
// then one per p/q. Over any interval of length d at most q+b + d·q/p
// requests are admitted. A request is admitted only if every window admits
// it; a refusal writes nothing, so it consumes no window.
//
// Policies are evaluated in configuration order. Once one refuses, the rest
// are skipped (Decision "skipped", no callouts), and the policies that had
// admitted the request give their unit back under CAS, so a client refused
// by a per-user limit does not drain its office's per-IP budget. A global
// refusal gives back the other policies' units the same way; the refusing
// policy keeps its own pre-limit unit, so that a client over the fleet-wide
// limit is soon shed locally, without callouts.
//
// Because an admission is a successful CAS that moves the TATs forward, N
// workers hammering one key never admit more than one sequential GCRA would:
// with a frozen clock, exactly q+b. When the CAS attempts run out
// (castable.ErrContended) or the host fails, the policy's failure_mode
// decides and the Outcome's reason says which (store_contended, store_error).
// A full table is not a failure: when every candidate slot of a new key holds
// another key's live state, the key takes the slot whose state expires first
// (castable.Options.Evict). A slot expires when all its windows are rested,
// so that is the entry with the least remaining debt, and a key at its limit
// is the last to go: filling the table cannot reset a limited client. With
// a quota of 1 and no burst every live entry is at its limit; the one whose
// window ends first goes, and its client may send one request early.
// Outcome.Evicted reports each eviction of live state.
// Only admissions write, so a check loses a race only to another admission of
// the same key, and it has 16 attempts. Under failure_mode "allow" (the
// default) requests passed on contention are extra to the budget and
// counted; "deny" makes the budget a strict upper bound.
//
// # Keys
//
// A bucket key is the policy name, the claim tier and the values of the key
// parts, length-prefixed. The table finds its slots by a keyed SipHash and
// stores it to tell colliding keys apart: as it is up to
// castable.MaxKeyBytes, else its SHA-256 digest, so a huge header is never
// stored raw; values sent to the
// global service are replaced by "sha256:<hex>" above 256 bytes. A missing
// part (no such header, no verified token or claim, no route name) is
// replaced by the client IP, tagged so that no real value can equal it: such
// clients are limited one by one and never share one empty bucket. With
// missing_key "deny" they are refused instead. If even the client IP is
// unknown, failure_mode decides.
//
// # Memory
//
// Each policy owns max_keys slots (default 10000), under its own namespace,
// so one policy's keys never evict another's. Shared data can never be
// deleted, but slots are reused once their state has expired (the key is
// fully rested), so a policy holds at most max_keys × (slot key + 24 + 8 ×
// windows) bytes, e.g. about 0.8 MB for 10000 slots and one window with a
// short namespace. Limiter.MaxBytes gives the exact bound.
//
// # Plan tiers
//
// An override reads a verified claim. With "values" the claim's value picks
// a tier's limits (an empty list means the tier is not limited by this
// policy); with "numeric" the claim is the quota per the configured window,
// capped at max. A missing claim, an unknown value or an invalid number keeps
// the policy's own limits. The tier is part of the bucket key, so a client
// whose plan changes starts a fresh bucket.
//
// # Response-bytes budget
//
// With cost "response_bytes" the quota counts response body bytes. A request
// is admitted while the key has budget left, and reserves bytes under the
// same CAS: estimated_bytes, else the observed average response size of
// the request's route, else of the policy, else (no response completed yet)
// all that is left; never more than
// what is left, so the reservations in flight never exceed the budget. When
// the stream ends, ChargeResponse replaces the reservation by the bytes
// delivered: the excess is charged (the debt is capped at two windows'
// capacity) or the unused part given back; the key's next request is refused
// while it is in debt. The overspend per window is therefore at most
// Σ (actual − reserved) over the streams in flight together, i.e. concurrent
// streams × (actual − reserved); with the defaults the first stream reserves
// everything, so a key's delivered bytes stay within twice its budget while
// no single response exceeds the budget, and within the budget plus the
// largest response otherwise (a response's size is unknown until it is
// sent).
//
// # Headers
//
// Per draft-ietf-httpapi-ratelimit-headers (draft-10 and the working group
// editor's copy of September 2025): RateLimit-Policy lists
// every window of every applied policy as a quota policy item ("name";q=;w=,
// with qu="content-bytes" for byte budgets; several windows are named
// "name-<w>s"); RateLimit gives, per policy, the tightest window's item with
// r (remaining) and t (seconds until more quota is available). Refusals add
// Retry-After, equal to the refusing policy's t. "legacy" sends
// X-RateLimit-Limit/-Remaining/-Reset for the tightest window of all
// policies. r can exceed q by up to the burst.
//
// # Global limits
//
// A policy with "global" asks envoyproxy/ratelimit through its HTTP /json
// endpoint; its limits, if any, are a local pre-limit checked first, so
// over-limit clients are shed without a callout. Only a 200 whose
// overallCode is OK passes and only a 429 is limited; every other status,
// Envoy's 503/504 for failed or timed-out callouts, and resets follow the
// global failure_mode (allow by default, as Envoy's ratelimit filter).
package ratelimit
