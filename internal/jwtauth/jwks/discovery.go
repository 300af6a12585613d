package jwks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// maxDiscoveryBytes bounds an OpenID configuration document.
const maxDiscoveryBytes = 64 << 10

// SplitURI returns the :path and :authority for a callout to an absolute
// http(s) URI; proxy_http_call goes to a cluster, so the URI's scheme only
// tells how the cluster must be configured.
func SplitURI(uri string) (path, authority string, err error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", fmt.Errorf("jwks: uri: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", "", fmt.Errorf("jwks: uri %q: scheme must be http or https", uri)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return "", "", fmt.Errorf("jwks: uri %q: need a host, no userinfo or fragment", uri)
	}
	path = u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return path, u.Host, nil
}

// discoveryTarget returns the callout target of the issuer's OpenID
// configuration (OpenID Connect Discovery 1.0 §4: the issuer with any
// trailing slash removed, then "/.well-known/openid-configuration").
func discoveryTarget(issuer string) (path, authority string, err error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme == "" || u.RawQuery != "" {
		return "", "", fmt.Errorf("jwks: discovery: issuer %q is not an absolute URL without query", issuer)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/.well-known/openid-configuration"
	u.RawPath = ""
	return SplitURI(u.String())
}

// ParseDiscovery reads an OpenID configuration, checks that its `issuer`
// equals the configured one exactly (OpenID Connect Discovery 1.0 §4.3), and
// returns the callout target of its `jwks_uri`.
func ParseDiscovery(doc []byte, issuer string) (path, authority string, err error) {
	if len(doc) > maxDiscoveryBytes {
		return "", "", fmt.Errorf("jwks: discovery: document of %d bytes exceeds %d", len(doc), maxDiscoveryBytes)
	}
	var cfg struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(doc, &cfg); err != nil {
		return "", "", fmt.Errorf("jwks: discovery: parse: %w", err)
	}
	if cfg.Issuer != issuer {
		return "", "", errors.New("jwks: discovery: issuer in the document differs from the configured issuer")
	}
	if cfg.JWKSURI == "" {
		return "", "", errors.New("jwks: discovery: no jwks_uri")
	}
	path, authority, err = SplitURI(cfg.JWKSURI)
	if err != nil {
		return "", "", fmt.Errorf("jwks: discovery: %w", err)
	}
	return path, authority, nil
}
