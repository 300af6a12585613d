package jwtauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// b64 decodes JWS segments strictly: no padding, no line breaks, no
// non-zero trailing bits, so one token has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

const (
	maxJSONDepth = 32
	maxKIDBytes  = 256
)

// header is the JOSE header members apiguard looks at. Embedded keys (`jwk`,
// `jku`, `x5u`, `x5c`) are never read: only configured keys verify tokens.
type header struct {
	alg    string
	kid    string
	typ    string
	hasKID bool
}

// parsed is a compact JWS split and decoded, not yet verified.
type parsed struct {
	header  header
	payload string // base64url payload segment, for forward_payload_header
	claims  map[string]any
}

// errMalformed etc. carry a reason; the message is fixed text, never token
// content.
type tokenError struct{ reason Reason }

func (e *tokenError) Error() string { return "jwtauth: token rejected: " + string(e.reason) }

func reject(r Reason) error { return &tokenError{reason: r} }

// reasonOf returns the reason carried by err, `malformed` for other errors.
func reasonOf(err error) Reason {
	var te *tokenError
	if errors.As(err, &te) {
		return te.reason
	}
	return ReasonMalformed
}

// parseCompact checks the token's shape and decodes its header and payload.
// It refuses, before any key is touched: anything but three base64url
// segments (JWE, trailing garbage, whitespace, extra segments), duplicate or
// malformed JSON members, an alg outside allowed, any `crit`, and `b64`.
func parseCompact(token string, allowed []string) (*parsed, error) {
	dots := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			dots++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return nil, reject(ReasonMalformed)
		}
	}
	if dots != 2 {
		return nil, reject(ReasonMalformed) // JWE has 4 dots; no JSON serialisation
	}
	h64, rest, _ := strings.Cut(token, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	if h64 == "" || p64 == "" || !canonicalBase64Tail(s64) {
		return nil, reject(ReasonMalformed)
	}
	hdrJSON, err := b64.DecodeString(h64)
	if err != nil {
		return nil, reject(ReasonMalformed)
	}
	hdr, err := decodeObject(hdrJSON)
	if err != nil {
		return nil, reject(ReasonMalformed)
	}
	var p parsed
	p.payload = p64
	alg, ok := hdr["alg"].(string)
	if !ok {
		return nil, reject(ReasonMalformed)
	}
	p.header.alg = alg
	if v, present := hdr["kid"]; present {
		kid, ok := v.(string)
		if !ok || len(kid) > maxKIDBytes {
			return nil, reject(ReasonMalformed)
		}
		// An empty kid names no key: it is treated as absent, so it gets
		// the bounded no-kid search rather than matching kid-less keys.
		p.header.kid, p.header.hasKID = kid, kid != ""
	}
	if v, present := hdr["typ"]; present {
		typ, ok := v.(string)
		if !ok {
			return nil, reject(ReasonMalformed)
		}
		p.header.typ = typ
	}
	if !containsString(allowed, alg) {
		return nil, reject(ReasonAlgNotAllowed) // includes "none"
	}
	// apiguard implements no JWS extension, so any critical one is unknown
	// (RFC 7515 §4.1.11). b64=false (RFC 7797) would let the signature
	// cover a raw payload that go-jose accepts; refuse it even without crit.
	if _, present := hdr["crit"]; present {
		return nil, reject(ReasonCrit)
	}
	if _, present := hdr["b64"]; present {
		return nil, reject(ReasonCrit)
	}
	payloadJSON, err := b64.DecodeString(p64)
	if err != nil {
		return nil, reject(ReasonMalformed)
	}
	if p.claims, err = decodeObject(payloadJSON); err != nil {
		return nil, reject(ReasonMalformed)
	}
	return &p, nil
}

// canonicalBase64Tail reports whether seg, unpadded base64url of the
// alphabet parseCompact admits, is the one spelling of its bytes: its length
// is not 1 mod 4 and its last character's unused low bits are zero.
// go-jose decodes the signature leniently, and without this check every
// signed token would have 4 or 16 spellings that verify, each a cache miss
// (a full signature check) and a token string no log or replay list
// recognises as the same. The header and payload are decoded strictly (b64).
func canonicalBase64Tail(seg string) bool {
	n := len(seg)
	if n%4 == 0 {
		return true
	}
	if n%4 == 1 {
		return false
	}
	var v byte
	switch c := seg[n-1]; {
	case c >= 'A' && c <= 'Z':
		v = c - 'A'
	case c >= 'a' && c <= 'z':
		v = c - 'a' + 26
	case c >= '0' && c <= '9':
		v = c - '0' + 52
	case c == '-':
		v = 62
	default: // '_'
		v = 63
	}
	unused := byte(0x0f) // two characters for one byte: 4 bits unused
	if n%4 == 3 {
		unused = 0x03 // three for two bytes: 2 bits unused
	}
	return v&unused == 0
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var (
	errDuplicate = errors.New("jwtauth: duplicate JSON member")
	errNotObject = errors.New("jwtauth: not a JSON object")
	errTooDeep   = errors.New("jwtauth: JSON nested too deeply")
)

// decodeObject decodes a JSON object, numbers as json.Number, refusing
// invalid JSON, trailing data, nesting deeper than maxJSONDepth and
// duplicate member names at any depth: a duplicate `iss` or `alg` would
// otherwise be read differently by different parsers. gjson validates and
// walks the members (fast, without allocating); encoding/json decodes.
func decodeObject(data []byte) (map[string]any, error) {
	if !gjson.ValidBytes(data) {
		return nil, errors.New("jwtauth: invalid JSON")
	}
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return nil, errNotObject
	}
	if err := checkMembers(root, 1); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// checkMembers refuses duplicate names in every object under v.
func checkMembers(v gjson.Result, depth int) error {
	if depth > maxJSONDepth {
		return errTooDeep
	}
	var err error
	switch {
	case v.IsObject():
		var names []string // objects in tokens are small: a linear scan beats a map
		v.ForEach(func(k, val gjson.Result) bool {
			if slices.Contains(names, k.Str) {
				err = errDuplicate
				return false
			}
			names = append(names, k.Str)
			err = checkMembers(val, depth+1)
			return err == nil
		})
	case v.IsArray():
		v.ForEach(func(_, val gjson.Result) bool {
			err = checkMembers(val, depth+1)
			return err == nil
		})
	}
	return err
}
