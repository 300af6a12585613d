// Package jwks turns JSON Web Key Sets into verification keys and keeps remote
// key sets fresh across Envoy workers.
//
// Parsing is lenient per key and strict per set: a key that cannot be used
// (wrong `use`, weak RSA modulus, private material, unsupported type) is
// skipped with a warning the plugin logs, while a document with no usable key
// at all is an error. Warnings never carry key material.
package jwks

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// MaxDocumentBytes bounds a JWKS document; IdP key sets are a few KiB.
	MaxDocumentBytes = 256 << 10
	// MaxKeys bounds the number of keys read from one document.
	MaxKeys = 64
	// MinRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
	MinRSABits = 2048
	// maxKIDLen bounds a key id kept from a document.
	maxKIDLen = 256
)

// KeyType is the family of a verification key; it decides which `alg`
// values may use it.
type KeyType int

// Key families.
const (
	RSA KeyType = iota + 1
	EC
	OKP
)

// Key is one usable public verification key.
type Key struct {
	// KID is the key's `kid`, possibly empty.
	KID string
	// Alg is the key's own `alg` restriction, possibly empty.
	Alg string
	// Type is the key family.
	Type KeyType
	// Public is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Public any
	// curve is the EC curve name ("P-256", …), empty for other types.
	curve string
}

// Set is an immutable set of usable keys. Sets are safe to share between
// goroutines.
type Set struct {
	keys []Key
	// Digest identifies the document the set was parsed from (SHA-256), so
	// caches can tell whether the keys behind a verification are still the
	// ones in force.
	Digest [32]byte
}

// Keys returns the usable keys, in document order. The slice must not be
// modified.
func (s *Set) Keys() []Key {
	if s == nil {
		return nil
	}
	return s.keys
}

// Len is the number of usable keys.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// HasKID reports whether any usable key carries kid.
func (s *Set) HasKID(kid string) bool {
	for i := range s.Keys() {
		if s.keys[i].KID == kid {
			return true
		}
	}
	return false
}

// Candidates returns the keys that may verify a token signed with alg and
// naming kid. With a kid, only keys carrying exactly that kid are returned:
// an unknown kid never falls back to another key. Without a kid, every key
// whose type fits alg is returned, at most max of them (max <= 0: no bound).
func (s *Set) Candidates(kid, alg string, max int) []Key {
	var out []Key
	for i := range s.Keys() {
		k := &s.keys[i]
		if kid != "" && k.KID != kid {
			continue
		}
		if !k.Fits(alg) {
			continue
		}
		out = append(out, *k)
		if max > 0 && len(out) >= max {
			break
		}
	}
	return out
}

// Fits reports whether the key may verify a signature made with alg: the
// family and curve must match, and a key that declares its own `alg` is used
// for that algorithm only.
func (k *Key) Fits(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return k.Type == RSA
	case "ES256":
		return k.Type == EC && k.curve == "P-256"
	case "ES384":
		return k.Type == EC && k.curve == "P-384"
	case "ES512":
		return k.Type == EC && k.curve == "P-521"
	case "EdDSA":
		return k.Type == OKP
	}
	return false
}

// Parse reads a JWKS document ({"keys": [...]}) and returns its usable keys,
// plus one warning per key that was skipped and why. It fails when the
// document is not a JWKS or holds no usable key.
func Parse(doc []byte) (*Set, []string, error) {
	if len(doc) > MaxDocumentBytes {
		return nil, nil, fmt.Errorf("jwks: document of %d bytes exceeds %d", len(doc), MaxDocumentBytes)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, fmt.Errorf("jwks: parse document: %w", err)
	}
	if dec.More() {
		return nil, nil, errors.New("jwks: parse document: trailing data")
	}
	if raw.Keys == nil {
		return nil, nil, errors.New(`jwks: parse document: no "keys" array`)
	}
	set := &Set{Digest: sha256.Sum256(doc)}
	var warnings []string
	for i, rk := range raw.Keys {
		if i >= MaxKeys {
			warnings = append(warnings, fmt.Sprintf("jwks: only the first %d of %d keys are used", MaxKeys, len(raw.Keys)))
			break
		}
		k, err := parseKey(rk)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("jwks: key %d%s ignored: %v", i, kidNote(k.KID), err))
			continue
		}
		set.keys = append(set.keys, k)
	}
	if len(set.keys) == 0 {
		return nil, warnings, errors.New("jwks: no usable key in document")
	}
	return set, warnings, nil
}

func kidNote(kid string) string {
	if kid == "" {
		return ""
	}
	return fmt.Sprintf(" (kid %q)", kid)
}

// keyMeta holds the members checked before go-jose sees the key. Private
// members are only tested for presence, never read.
type keyMeta struct {
	Kty  string          `json:"kty"`
	Kid  string          `json:"kid"`
	Use  *string         `json:"use"`
	Alg  string          `json:"alg"`
	Crv  string          `json:"crv"`
	D    json.RawMessage `json:"d"`
	P    json.RawMessage `json:"p"`
	Q    json.RawMessage `json:"q"`
	K    json.RawMessage `json:"k"`
	Priv json.RawMessage `json:"priv"`
}

// parseKey returns a usable key or why it is not usable. The returned Key
// carries the kid even on error, for the warning.
func parseKey(raw json.RawMessage) (Key, error) {
	var meta keyMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return Key{}, errors.New("not a JSON object with string members")
	}
	if len(meta.Kid) > maxKIDLen {
		return Key{}, fmt.Errorf("kid longer than %d bytes", maxKIDLen)
	}
	k := Key{KID: meta.Kid, Alg: meta.Alg}
	if meta.Use != nil && *meta.Use != "sig" {
		return k, fmt.Errorf("use %q is not sig", *meta.Use)
	}
	if meta.D != nil || meta.P != nil || meta.Q != nil || meta.K != nil || meta.Priv != nil {
		return k, errors.New("contains private or symmetric key material")
	}
	if meta.Alg != "" && !knownAlg(meta.Alg) {
		return k, fmt.Errorf("alg %q is not a supported signature algorithm", meta.Alg)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return k, errors.New("invalid or unsupported key (type, curve, size or encoding)")
	}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < MinRSABits {
			return k, fmt.Errorf("RSA modulus of %d bits is below %d", bits, MinRSABits)
		}
		k.Type, k.Public = RSA, pub
	case *ecdsa.PublicKey:
		k.Type, k.Public, k.curve = EC, pub, pub.Curve.Params().Name
	case ed25519.PublicKey:
		k.Type, k.Public = OKP, pub
	default:
		return k, fmt.Errorf("key type %q is not a supported public signature key", meta.Kty)
	}
	if k.Alg != "" && !k.Fits(k.Alg) {
		return k, fmt.Errorf("alg %q does not fit the key type", k.Alg)
	}
	return k, nil
}

func knownAlg(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return true
	}
	return false
}
