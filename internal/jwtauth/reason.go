package jwtauth

import (
	"encoding/json"
	"strings"

	"github.com/apiguard/apiguard/internal/verdict"
)

// Reason is a machine-readable cause of a denial, from apiguard's one
// vocabulary (internal/verdict): the same spelling reaches the reply, the
// audit event, metrics and filter state.
type Reason = verdict.Reason

// The reasons. jwks_unavailable is a technical failure (no key set could be
// loaded), told apart from every rejection of a bad token.
const (
	ReasonMissing         = verdict.MissingToken
	ReasonMalformed       = verdict.MalformedToken
	ReasonTooLarge        = verdict.TokenTooLarge
	ReasonMultipleTokens  = verdict.MultipleTokens
	ReasonAlgNotAllowed   = verdict.AlgNotAllowed
	ReasonCrit            = verdict.UnsupportedCrit
	ReasonUnknownKID      = verdict.UnknownKID
	ReasonBadSignature    = verdict.BadSignature
	ReasonExpired         = verdict.TokenExpired
	ReasonNotYetValid     = verdict.TokenNotYetValid
	ReasonIATFuture       = verdict.IssuedInFuture
	ReasonLifetime        = verdict.LifetimeTooLong
	ReasonIssuer          = verdict.BadIssuer
	ReasonAudience        = verdict.BadAudience
	ReasonSubject         = verdict.BadSubject
	ReasonTyp             = verdict.BadTyp
	ReasonClaims          = verdict.ClaimsFailed
	ReasonJWKSUnavailable = verdict.JWKSUnavailable
	// ReasonLockedOut: too many failed authentications from the client IP
	// (429, see Lockout).
	ReasonLockedOut = verdict.LockedOut
)

// Reasons lists every Reason, for metric catalogues.
var Reasons = []Reason{
	ReasonMissing, ReasonMalformed, ReasonTooLarge, ReasonMultipleTokens, ReasonAlgNotAllowed,
	ReasonCrit, ReasonUnknownKID, ReasonBadSignature, ReasonExpired, ReasonNotYetValid,
	ReasonIATFuture, ReasonLifetime, ReasonIssuer, ReasonAudience, ReasonSubject, ReasonTyp,
	ReasonClaims, ReasonJWKSUnavailable, ReasonLockedOut,
}

// descriptions are the fixed error_description texts; they never echo the
// token or any of its content.
var descriptions = map[Reason]string{
	ReasonMissing:         "no token in the request",
	ReasonMalformed:       "the token is malformed",
	ReasonTooLarge:        "the token is too large",
	ReasonMultipleTokens:  "the request carries more than one token",
	ReasonAlgNotAllowed:   "the token's signing algorithm is not allowed",
	ReasonCrit:            "the token uses an unsupported critical header",
	ReasonUnknownKID:      "the token's signing key is unknown",
	ReasonBadSignature:    "the token's signature is invalid",
	ReasonExpired:         "the token has expired",
	ReasonNotYetValid:     "the token is not valid yet",
	ReasonIATFuture:       "the token was issued in the future",
	ReasonLifetime:        "the token's lifetime is not acceptable",
	ReasonIssuer:          "the token's issuer is not accepted",
	ReasonAudience:        "the token's audience is not accepted",
	ReasonSubject:         "the token's subject is not accepted",
	ReasonTyp:             "the token's type is not accepted",
	ReasonClaims:          "the token lacks the required claims",
	ReasonJWKSUnavailable: "the signing keys are unavailable",
	ReasonLockedOut:       "too many failed authentications; retry later",
}

// rank orders failures when several requirements fail: the most specific
// explanation is reported. A token present but wrong beats "missing"; a
// token for another issuer ranks low because another provider may own it.
func rank(r Reason) int {
	switch r {
	case "", ReasonMissing:
		return 0
	case ReasonIssuer:
		return 1
	case ReasonJWKSUnavailable:
		return 2
	case ReasonClaims:
		return 4
	case ReasonMultipleTokens:
		return 5
	}
	return 3
}

// status is the HTTP status for a denial (RFC 6750 §3.1).
func status(r Reason) int {
	switch r {
	case ReasonClaims:
		return 403
	case ReasonMultipleTokens:
		return 400
	case ReasonLockedOut:
		return 429
	}
	return 401
}

// errorCode is the RFC 6750 error attribute; none when the token is missing.
func errorCode(r Reason) string {
	switch r {
	case ReasonMissing:
		return ""
	case ReasonClaims:
		return "insufficient_scope"
	case ReasonMultipleTokens:
		return "invalid_request"
	case ReasonLockedOut:
		return "too_many_requests"
	}
	return "invalid_token"
}

// challenge renders the WWW-Authenticate value (RFC 6750 §3); none for a
// lockout, which is not an authentication challenge. realm and scope are
// configuration values, validated to need no escaping beyond quoting.
func challenge(realm string, r Reason, scope string) string {
	if r == ReasonLockedOut {
		return ""
	}
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(realm)
	b.WriteByte('"')
	if code := errorCode(r); code != "" {
		b.WriteString(`, error="`)
		b.WriteString(code)
		b.WriteString(`", error_description="`)
		b.WriteString(descriptions[r])
		b.WriteByte('"')
		if r == ReasonClaims && scope != "" {
			b.WriteString(`, scope="`)
			b.WriteString(scope)
			b.WriteByte('"')
		}
	}
	return b.String()
}

// body is the small JSON document sent with every denial.
func body(r Reason) []byte {
	code := errorCode(r)
	if code == "" {
		code = "unauthorized"
	}
	b, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Reason      Reason `json:"reason"`
	}{code, descriptions[r], r})
	return b
}
