package detect

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// realNames are field names as APIs write them: camelCase, snake_case,
// kebab-case, headers, acronyms, numbered words.
var realNames = []string{
	"createdAt", "updatedAt", "X-Request-Id", "X-Forwarded-For", "userId2", "addressLine2", "user_id", "html_url",
	"pull_request_review_id", "secret_scanning_push_protection_enabled_for_new_repositories", "SHA256_ED25519",
	"ipv4Address", "x509Certificate", "oauth2Token", "s3BucketName", "utf8mb4Collation", "HTTPServerName",
	"getURLForRequest", "aVeryLongNameWithAShortWord", "isHTMLUrl", "sessionId", "resetTokenExpiresAt",
	"accessTokenTTLSeconds", "k8sNamespace", "maxConnectionsPerHost", "perConnectionBufferLimitBytes",
	"@timestamp", "$ref", "+1", "-1", "Content-Security-Policy", "Strict-Transport-Security", "dnsOverHttps",
	"downstreamTlsContext", "respectDnsTtl", "has_shrinkwrap", "encrypted_connstring", "webhookSecretRotatedAt",
	"awsSecretAccessKey", "passwordHash", "pwd_hash", "client_secret", "refreshToken", "idempotencyKey",
}

func TestIsDataKeyKeepsRealNames(t *testing.T) {
	for _, k := range realNames {
		if IsDataKey(k) {
			t.Errorf("%q taken for data", k)
		}
	}
}

// TestIsDataKeyKeepsRealpropertyNames: no property name of the committed
// OpenAPI descriptions (Petstore, Redocly's Museum) is taken for data
// (e2e/openapi runs GitHub's through the same check).
func TestIsDataKeyKeepsRealpropertyNames(t *testing.T) {
	files, _ := filepath.Glob("../openapi/testdata/*/openapi.yaml")
	if len(files) == 0 {
		t.Fatal("no OpenAPI descriptions under ../openapi/testdata")
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for name := range propertyNames(doc) {
			n++
			if IsDataKey(name) {
				t.Errorf("%s: property %q taken for data", f, name)
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d property names read", n)
	}
}

// TestIsDataKeyCollapsesRandomTokens: keys that are random tokens in the
// alphabets tokens are written in (hex, base32, base36, base62,
// base64url, letters alone), bare or after a prefix ("rst-", "sess_",
// "password_reset_token_"), are data: nearly all from 16 characters on,
// most from 12.
func TestIsDataKeyCollapsesRandomTokens(t *testing.T) {
	const (
		lower = "abcdefghijklmnopqrstuvwxyz"
		upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		digit = "0123456789"
	)
	alphabets := map[string]string{
		"hex": digit + "abcdef", "HEX": digit + "ABCDEF", "base32": upper + "234567", "base36": lower + digit,
		"base62": lower + upper + digit, "base64url": lower + upper + digit + "-_", "letters": lower + upper,
		"lower": lower, "upper": upper,
	}
	prefixes := []string{"", "rst-", "sess_", "tok_", "x", "session_", "password_reset_token_"}
	rng := rand.New(rand.NewPCG(14, 5))
	for name, alphabet := range alphabets {
		for _, n := range []int{12, 16, 24, 32, 64} {
			const tries = 1000
			missed := 0
			var example string
			for i := range tries {
				b := make([]byte, n)
				for j := range b {
					b[j] = alphabet[rng.IntN(len(alphabet))]
				}
				if k := prefixes[i%len(prefixes)] + string(b); !IsDataKey(k) {
					missed++
					example = k
				}
			}
			limit := tries / 20 // 5%
			if n < 16 {
				limit = tries / 5
			}
			if missed > limit {
				t.Errorf("%s, %d characters: %d of %d taken for names (%q)", name, n, missed, tries, example)
			}
		}
	}
	for _, k := range []string{"vKtQpZrXbYwVmNcLdFgHjAsE", "Zm9vYmFyYmF6cXV4c2VjcmV0", "rst-KqWmZpXnVbTyLr",
		"sess_" + strings.Repeat("9fK2", 5), "JBSWY3DPEHPK3PXP", "k3j9x0p2m8q1ab7z"} {
		if !IsDataKey(k) {
			t.Errorf("%q taken for a field name", k)
		}
	}
}

// propertyNames returns the names of the properties of every schema in
// an OpenAPI description decoded as YAML or JSON: the keys of every
// "properties" object.
func propertyNames(doc any) map[string]bool {
	names := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				if p, ok := c.(map[string]any); ok && k == "properties" {
					for name := range p {
						names[name] = true
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(doc)
	return names
}
