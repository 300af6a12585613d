package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/apiguard/apiguard/internal/claims"
)

// partKind is the source of one key part.
type partKind uint8

const (
	partClientIP partKind = iota + 1
	partHeader
	partClaim
	partPath
	partMethod
	partEnvoyRoute
)

// part is one parsed key part.
type part struct {
	kind   partKind
	name   string      // the part as configured, e.g. "header:x-api-key"
	header string      // lower-case header name for partHeader
	claim  claims.Path // for partClaim
}

// The key-part grammar: a bare kind ("client_ip", "path", "method",
// "envoy_route") or KIND:ARGUMENT ("header:NAME", "claim:PATH"). A claim
// PATH is written as everywhere else a claim is named (claims.Path): dotted
// ("realm_access.tier"), or a JSON array of segments for names that contain
// dots (`claim:["https://example.com/plan"]`).
const partKinds = `"client_ip", "header:NAME", "claim:PATH", "path", "method" or "envoy_route"`

// KeyPart is one key part as configured (see partKinds). Validate reads it
// (parsePart); its schema states the grammar, so an editor flags a part the
// plugin would refuse, such as a spelling renamed before 1.0.
type KeyPart string

// JSONSchema describes the key-part grammar.
func (KeyPart) JSONSchema() map[string]any {
	return map[string]any{
		"type":        "string",
		"pattern":     "^(client_ip|path|method|envoy_route|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|claim:.+)$",
		"description": `a key part: ` + partKinds,
	}
}

func parsePart(k KeyPart) (part, error) {
	s := string(k)
	switch {
	case s == "client_ip":
		return part{kind: partClientIP, name: s}, nil
	case s == "path":
		return part{kind: partPath, name: s}, nil
	case s == "method":
		return part{kind: partMethod, name: s}, nil
	case s == "envoy_route":
		return part{kind: partEnvoyRoute, name: s}, nil
	case strings.HasPrefix(s, "header:"):
		h := strings.ToLower(strings.TrimPrefix(s, "header:"))
		if !headerPattern.MatchString(h) {
			return part{}, errors.New("header:NAME needs a valid header name")
		}
		return part{kind: partHeader, name: s, header: h}, nil
	case strings.HasPrefix(s, "claim:"):
		arg := strings.TrimPrefix(s, "claim:")
		raw, err := json.Marshal(arg)
		if strings.HasPrefix(arg, "[") {
			raw = []byte(arg)
		}
		var path claims.Path
		if err == nil {
			err = path.UnmarshalJSON(raw)
		}
		if err != nil {
			return part{}, errors.New(`claim:PATH needs a dotted claim path ("claim:realm_access.tier") or a JSON array of segments ("claim:[\"https://example.com/plan\"]")`)
		}
		return part{kind: partClaim, name: s, claim: path}, nil
	case s == "source.ip":
		return part{}, errors.New(`"source.ip" was renamed to "client_ip"`)
	case strings.HasPrefix(s, "jwt."):
		return part{}, fmt.Errorf(`"jwt.CLAIM" was renamed to "claim:CLAIM": write %q`, "claim:"+strings.TrimPrefix(s, "jwt."))
	}
	return part{}, errors.New("unknown key part: use " + partKinds)
}

// value returns the part's value for r; ok is false when the request lacks it.
func (p part) value(r *Request) (string, bool) {
	switch p.kind {
	case partClientIP:
		if !r.ClientIP.IsValid() {
			return "", false
		}
		return r.clientKey(), true
	case partHeader:
		if r.Header == nil {
			return "", false
		}
		v, ok := r.Header(p.header)
		return v, ok && v != ""
	case partClaim:
		if r.Claims == nil {
			return "", false
		}
		c, ok := claims.Lookup(r.Claims, p.claim)
		if !ok {
			return "", false
		}
		return claimString(c)
	case partPath:
		// Rules match paths case-insensitively unless told otherwise, so the
		// key is the case-folded canonical path: /USERS/1 is /users/1's
		// bucket, and a client cannot reset its limit by changing case.
		return strings.ToLower(r.Path), r.Path != ""
	case partMethod:
		return r.Method, r.Method != ""
	case partEnvoyRoute:
		return r.EnvoyRoute, r.EnvoyRoute != ""
	}
	return "", false
}

// claimString renders a scalar claim; objects, arrays and null are not keys.
func claimString(c any) (string, bool) {
	switch v := c.(type) {
	case string:
		return v, v != ""
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		// Claims decoded without UseNumber: render integers without exponent.
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

// errNoKey means a key part is missing and there is no client IP to fall back
// to, or the policy says "deny" for missing parts.
var errNoKey = errors.New("ratelimit: key part missing")

// resolveParts returns the values of parts for r, applying the missing-part
// rule: with fallback, a missing part becomes the client IP, and its bit is
// set in the returned mask. bucketKey tags present values and fallbacks
// differently, so a client can never send a value that equals another
// client's fallback. The values are appended to dst[:0], a caller's buffer.
func resolveParts(dst []string, parts []part, r *Request, fallback bool) (vals []string, fellBack uint8, err error) {
	vals = dst[:0]
	for i, p := range parts {
		v, ok := p.value(r)
		if ok {
			vals = append(vals, v)
			continue
		}
		if !fallback || !r.ClientIP.IsValid() {
			return nil, 0, errNoKey
		}
		vals = append(vals, r.clientKey())
		fellBack |= 1 << i
	}
	return vals, fellBack, nil
}

// bucketKey joins the policy, the tier and the part values, each with its
// length and a tag ('=' present, '?' client-IP fallback), so that no two
// different tuples give the same key. The table hashes it; it is never stored.
//
// It appends into dst when the key fits its capacity (inside reports it:
// the key then shares dst's array), else into one buffer sized up front,
// the key's one allocation, with no call per field: in Wasm a call costs
// more than a short field's bytes.
func bucketKey(dst []byte, policy, tier string, vals []string, fellBack uint8) (key string, inside bool) {
	n := len(policy) + len(tier) + 16
	for _, v := range vals {
		n += len(v) + 8
	}
	b := dst[:0]
	if inside = cap(b) >= n; !inside {
		b = make([]byte, 0, n)
	}
	b = appendKeyField(b, ':', policy)
	b = appendKeyField(b, ':', tier)
	for i, v := range vals {
		tag := byte('=')
		if fellBack&(1<<i) != 0 {
			tag = '?'
		}
		b = appendKeyField(b, tag, v)
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), inside
}

// appendKeyField appends one field of a bucket key: its length, its tag
// and its bytes.
func appendKeyField(b []byte, tag byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, tag)
	return append(b, s...)
}

// descriptorValue bounds a value sent to the global service: values longer
// than maxPartValue are replaced by "sha256:" and their hex digest.
func descriptorValue(v string) string {
	if len(v) <= maxPartValue {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// clientKey is what a client_ip part or the fallback puts in a key: the
// client's network (ClientKey), else its whole address. ClientIP is valid.
func (r *Request) clientKey() string {
	if r.ClientKey != "" {
		return r.ClientKey
	}
	return r.ClientIP.Unmap().String()
}

func itoa(i int) string { return strconv.Itoa(i) }

// KeyHoldsClientValues reports whether a bucket key of p can hold values
// that identify a client: a source IP, a header or a claim, a path (which
// often carries user or object ids), or the client IP that missing_key
// "client_ip" puts in place of a missing part. Such keys are personal data
// and guessable from a dictionary, so the audit trail must only carry them
// hashed with a secret salt.
func (p *Policy) KeyHoldsClientValues() bool {
	fallback := p.MissingKey != "deny"
	for _, k := range p.Key {
		pt, err := parsePart(k)
		if err != nil {
			return true // refused by Validate; be conservative
		}
		switch pt.kind {
		case partMethod:
		case partEnvoyRoute:
			if fallback {
				return true // a route without a name falls back to the client IP
			}
		default:
			return true
		}
	}
	return false
}

// Headers lists the request headers the policies read (key parts and
// descriptor entries "header:NAME", match conditions), lower case: a repeat
// of any of them must be refused, as Envoy reads only the first copy while
// upstreams may read the last.
func (c Config) Headers() []string {
	var out []string
	add := func(from KeyPart) {
		if pt, err := parsePart(from); err == nil && pt.kind == partHeader {
			out = append(out, pt.header)
		}
	}
	for _, p := range c {
		for _, k := range p.Key {
			add(k)
		}
		if p.Global != nil {
			for _, d := range p.Global.Descriptors {
				for _, e := range d {
					add(e.From)
				}
			}
		}
		for _, h := range p.Match.Headers {
			out = append(out, strings.ToLower(h.Name))
		}
	}
	return out
}
