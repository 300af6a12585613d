// Package verdict is apiguard's one vocabulary of decisions and reasons.
//
// Every decision a policy takes has exactly one spelling, used unchanged in
// the x-apiguard-reason reply header, the audit event, the metric labels, the
// filter state (wasm.apiguard.*) and Envoy's response code details. The
// policies use these constants directly, so nothing translates between
// vocabularies and a reason cannot be spelled two ways.
//
// Reasons are globally unique across policies: a reason alone says which
// policy decided. Each policy's set is closed, so reasons can label metrics
// without unbounded cardinality.
package verdict

import "slices"

// Decision is what a policy did with a request or response.
type Decision string

const (
	Allow Decision = "allow"
	Deny  Decision = "deny"
)

// Policy names the part of apiguard that decided.
type Policy string

const (
	// PolicyRequest judges whether a request can be judged at all (its path,
	// method and headers) before any other policy reads it.
	PolicyRequest    Policy = "request"
	PolicyAuthn      Policy = "authn"
	PolicyRateLimit  Policy = "ratelimit"
	PolicyRespFilter Policy = "respfilter"
	// PolicyInternal is apiguard failing closed on its own error.
	PolicyInternal Policy = "internal"
)

// Reason says why a policy decided as it did.
type Reason string

// Request reasons: the request cannot be judged safely (400).
const (
	MissingPath           Reason = "missing_path"
	NonCanonicalPath      Reason = "non_canonical_path"
	NonCanonicalMethod    Reason = "non_canonical_method"    // a case variant of a standard method, or not a token
	MethodOverride        Reason = "method_override"         // X-HTTP-Method-Override and kin, method_override "refuse"
	PathOverride          Reason = "path_override"           // X-Original-URL, X-Rewrite-URL
	NonCanonicalAuthority Reason = "non_canonical_authority" // unusable, or not canonical under authority_normalization "refuse"
	RepeatedHeader        Reason = "repeated_header"         // a header a decision reads was sent more than once
	HeaderWithUnderscores Reason = "header_with_underscores" // headers_with_underscores "reject"
)

// Authentication reasons.
const (
	Verified    Reason = "verified"     // allow: a token verified
	NotRequired Reason = "not_required" // allow: the route requires no token

	MissingToken     Reason = "missing_token"
	MalformedToken   Reason = "malformed_token"
	TokenTooLarge    Reason = "token_too_large"
	MultipleTokens   Reason = "multiple_tokens"
	AlgNotAllowed    Reason = "alg_not_allowed"
	UnsupportedCrit  Reason = "unsupported_crit"
	UnknownKID       Reason = "unknown_kid"
	BadSignature     Reason = "bad_signature"
	TokenExpired     Reason = "token_expired"
	TokenNotYetValid Reason = "token_not_yet_valid"
	IssuedInFuture   Reason = "issued_in_future"
	LifetimeTooLong  Reason = "lifetime_too_long"
	BadIssuer        Reason = "bad_issuer"
	BadAudience      Reason = "bad_audience"
	BadSubject       Reason = "bad_subject"
	BadTyp           Reason = "bad_typ"
	ClaimsFailed     Reason = "claims_failed"
	JWKSUnavailable  Reason = "jwks_unavailable" // a technical failure, not a bad token
	LockedOut        Reason = "locked_out"
)

// Rate-limit reasons. A failure reason (table_full, store_*, global_*) is an
// allow or a deny as the policy's failure_mode says.
const (
	WithinLimit       Reason = "within_limit"
	Unlimited         Reason = "unlimited" // the caller's claim tier has no limits
	RateLimited       Reason = "rate_limited"
	ShadowRateLimited Reason = "shadow_rate_limited" // allow: a shadow policy would have refused
	MissingKey        Reason = "missing_key"         // a key part is missing and there is no fallback

	TableFull              Reason = "table_full"
	StoreContended         Reason = "store_contended"
	StoreError             Reason = "store_error"
	GlobalReset            Reason = "global_reset"             // the callout was reset: no answer
	GlobalUnavailable      Reason = "global_unavailable"       // Envoy's 503: refused, reset, no healthy host
	GlobalTimeout          Reason = "global_timeout"           // Envoy's 504: the callout's timeout passed
	GlobalServiceError     Reason = "global_service_error"     // the service's 400, e.g. Redis down
	GlobalUnknown          Reason = "global_unknown"           // the service's 500 (overallCode UNKNOWN)
	GlobalBadAnswer        Reason = "global_bad_answer"        // a 200 that is not a readable overallCode OK
	GlobalUnexpectedStatus Reason = "global_unexpected_status" // any other status
)

// Response-filter reasons. An error reason is a deny, or an allow where the
// operator chose to pass such bodies (on_error, non_json).
const (
	Filtered Reason = "filtered" // allow: the body was checked against the allowlist

	BodyTooLarge        Reason = "body_too_large"
	MalformedJSON       Reason = "malformed_json"
	UnsupportedEncoding Reason = "unsupported_encoding"
	DecodeFailed        Reason = "decode_failed"
	ConflictingLength   Reason = "conflicting_length"
	TooDeep             Reason = "too_deep"
	NotJSON             Reason = "not_json"
	ReencodeFailed      Reason = "reencode_failed" // never expected

	// SensitiveData: a response value of a class whose policy is deny
	// (response_inventory.classes). Always a deny, whatever on_error says.
	SensitiveData Reason = "sensitive_data"
)

// InternalError: apiguard failed closed on its own error (a recovered panic,
// a host call that failed where the decision needed it).
const InternalError Reason = "internal_error"

// Other labels a reason outside a closed set in metrics: a plugin bug,
// counted rather than dropped.
const Other Reason = "other"

// Closed sets, in a stable order.
var (
	requestDeny  = []Reason{MissingPath, NonCanonicalPath, NonCanonicalMethod, MethodOverride, PathOverride, NonCanonicalAuthority, RepeatedHeader, HeaderWithUnderscores}
	authnAllow   = []Reason{Verified, NotRequired}
	authnDeny    = []Reason{MissingToken, MalformedToken, TokenTooLarge, MultipleTokens, AlgNotAllowed, UnsupportedCrit, UnknownKID, BadSignature, TokenExpired, TokenNotYetValid, IssuedInFuture, LifetimeTooLong, BadIssuer, BadAudience, BadSubject, BadTyp, ClaimsFailed, JWKSUnavailable, LockedOut}
	rlFailures   = []Reason{TableFull, StoreContended, StoreError, GlobalReset, GlobalUnavailable, GlobalTimeout, GlobalServiceError, GlobalUnknown, GlobalBadAnswer, GlobalUnexpectedStatus}
	rlAllow      = slices.Concat([]Reason{WithinLimit, Unlimited, ShadowRateLimited}, rlFailures)
	rlDeny       = slices.Concat([]Reason{RateLimited, MissingKey}, rlFailures)
	rfErrors     = []Reason{BodyTooLarge, MalformedJSON, UnsupportedEncoding, DecodeFailed, ConflictingLength, TooDeep, NotJSON, ReencodeFailed}
	rfAllow      = slices.Concat([]Reason{Filtered}, rfErrors)
	rfDeny       = slices.Concat(rfErrors, []Reason{SensitiveData})
	internalDeny = []Reason{InternalError}
)

// Reasons returns the closed set of reasons with which policy p takes
// decision d.
func Reasons(p Policy, d Decision) []Reason {
	var set []Reason
	switch p {
	case PolicyRequest:
		if d == Deny {
			set = requestDeny
		}
	case PolicyAuthn:
		set = pick(d, authnAllow, authnDeny)
	case PolicyRateLimit:
		set = pick(d, rlAllow, rlDeny)
	case PolicyRespFilter:
		set = pick(d, rfAllow, rfDeny)
	case PolicyInternal:
		if d == Deny {
			set = internalDeny
		}
	}
	return slices.Clone(set)
}

func pick(d Decision, allow, deny []Reason) []Reason {
	if d == Allow {
		return allow
	}
	return deny
}

// RateLimitFailures returns the reasons of a rate-limit failure (the state
// or the service could not answer), which also label the errors metric.
func RateLimitFailures() []Reason { return slices.Clone(rlFailures) }

// FilterErrors returns the reasons of a body the filter could not filter.
func FilterErrors() []Reason { return slices.Clone(rfErrors) }

// ReplyHeader carries the reason on every reply apiguard makes itself.
const ReplyHeader = "x-apiguard-reason"

// Details is Envoy's response code details (%RESPONSE_CODE_DETAILS%) for
// apiguard's own reply: the reason, prefixed so access logs show who
// answered. Reasons are [a-z0-9_], which Envoy passes unchanged.
func Details(r Reason) string { return "apiguard_" + string(r) }
