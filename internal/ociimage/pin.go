package ociimage

import "regexp"

var (
	urlLine      = regexp.MustCompile(`(?m)^(\s*(?:url|uri): )oci://\S+$`)
	sha256Line   = regexp.MustCompile(`(?m)^(\s*sha256: )"?[0-9a-f]*"?$`)
	leadingSpace = regexp.MustCompile(`^\s*`)
)

// Pin rewrites a shipped Istio manifest to pull url and check digest: the
// WasmPlugin's `url` (adding `sha256` below it when absent) or the
// EnvoyFilter's remote `uri` and `sha256`.
func Pin(manifest []byte, url, digestHex string) []byte {
	out := urlLine.ReplaceAll(manifest, []byte("${1}"+url))
	if sha256Line.Match(out) {
		return sha256Line.ReplaceAll(out, []byte(`${1}"`+digestHex+`"`))
	}
	return urlLine.ReplaceAllFunc(out, func(line []byte) []byte {
		res := append([]byte(nil), line...)
		res = append(res, '\n')
		res = append(res, leadingSpace.Find(line)...)
		return append(res, `sha256: "`+digestHex+`"`...)
	})
}
