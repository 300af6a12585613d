package openapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// keywords is a small 3.1 description that uses every schema keyword the
// generator reads, each security combination and each path form.
const keywords = `
openapi: 3.1.0
info: {title: keywords, version: "1"}
servers: [{url: "https://api.example/{v}", variables: {v: {default: v2}}}]
security: [{corp: [read]}]
paths:
  /users/me:
    get:
      operationId: getMe
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/User"}}}}}
  /users/{id}:
    get:
      operationId: getUser
      security: [{corp: [read, admin]}, {partner: []}]
      responses:
        "200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/User"}}}}
        "404": {description: gone, content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}}
  /users/{id}/avatar.{format}:
    get:
      operationId: getAvatar
      security: []
      responses: {"200": {description: ok, content: {image/png: {}}}}
  /files/{name}.json:
    get:
      operationId: getFile
      security: [{corp: [read], partner: [files]}]
      responses: {"200": {description: ok, content: {application/json: {schema: {type: object, additionalProperties: true}}}}}
  /trees/{id}:
    get:
      operationId: getTree
      security: [{}, {corp: []}]
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Node"}}}}}
  /shapes:
    get:
      operationId: listShapes
      security: [{key: []}]
      responses:
        "200":
          description: ok
          content:
            application/vnd.example+json:
              schema:
                type: array
                items:
                  oneOf:
                    - {type: object, properties: {kind: {const: circle}, radius: {type: number}}}
                    - {type: object, properties: {kind: {const: square}, side: {type: [number, "null"]}}}
                  anyOf:
                    - {type: object, properties: {"a.b": {type: string}, "x*y": {type: string}}}
  /maps:
    get:
      operationId: getMaps
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  labels: {type: object, additionalProperties: {type: object, properties: {text: {type: string}}}}
                  free: {type: object}
                  pairs: {type: array, prefixItems: [{type: string}, {type: object, properties: {n: {type: integer}}}]}
                  matrix: {type: array, items: {type: array, items: {type: integer}}}
                  odd: {type: object, patternProperties: {"^x-": {type: string}}}
components:
  securitySchemes:
    corp: {type: oauth2, flows: {clientCredentials: {tokenUrl: "https://idp.example/token", scopes: {read: r, admin: a}}}}
    partner: {type: openIdConnect, openIdConnectUrl: "https://partner.example/.well-known/openid-configuration"}
    key: {type: apiKey, in: header, name: X-Key}
  schemas:
    User:
      allOf:
        - $ref: "#/components/schemas/Base"
        - type: object
          properties:
            name: {type: string}
            password: {type: string, writeOnly: true}
            email: {type: string}
    Base: {type: object, properties: {id: {type: string}}, required: [id]}
    Problem: {type: object, properties: {title: {type: string}, status: {type: integer}}}
    Node:
      type: object
      properties:
        value: {type: string}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
`

var corpProvider = map[string]json.RawMessage{
	"corp": json.RawMessage(`{"issuer": "https://idp.example", "audiences": ["api"], "remote_jwks": {"cluster": "idp", "uri": "https://idp.example/jwks"}}`),
}

func TestSchemaKeywordsSecurityAndPaths(t *testing.T) {
	// Scopes are read from "scp", as Azure AD and Okta issue them.
	res, err := Generate([]byte(keywords), Options{Providers: corpProvider, ScopeClaim: "scp"})
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, res)
	for name, want := range map[string]string{
		// allOf of a $ref and inline properties; writeOnly left out; a
		// literal path before the template it overlaps.
		"get_me": `{"match":{"path_template":"/v2/users/me","methods":["GET"]},"allow":["email","id","name"]}`,
		// Every JSON response (problem+json too) is in the union.
		"get_user": `{"match":{"path_template":"/v2/users/{id}","methods":["GET"]},"allow":["email","id","name","status","title"]}`,
		// Only an image: not filtered.
		"get_avatar": `{"match":{"regex":"/v2/users/[^/]+/avatar\\.[^/]+","methods":["GET"]},"bypass":true}`,
		// A final suffix is a template; a free-form object at the top.
		"get_file": `{"match":{"path_template":"/v2/files/*.json","methods":["GET"]},"allow":["*"]}`,
		// Recursion is followed twice, then cut: the third level is removed.
		"get_tree": `{"match":{"path_template":"/v2/trees/{id}","methods":["GET"]},"allow":["children.#.value","value"]}`,
		// oneOf/anyOf as their union, const, type arrays, escaped keys.
		"list_shapes": `{"match":{"path_template":"/v2/shapes","methods":["GET"]},"allow":["#.a\\.b","#.kind","#.radius","#.side","#.x\\*y"]}`,
		// additionalProperties with a schema, a free-form member, prefixItems,
		// nested arrays; patternProperties is reported and left out.
		"get_maps": `{"match":{"path_template":"/v2/maps","methods":["GET"]},"allow":["free","labels.*.text","matrix.#.#","pairs.#","pairs.#.n"]}`,
	} {
		if got := p.response[name]; got != canon(t, want) {
			t.Errorf("response rule %s\n got %s\nwant %s", name, got, want)
		}
	}
	for name, want := range map[string]string{
		// The document's default needs no rule of its own, except where a
		// later rule would capture the path ("/users/{id}" after "/users/me")...
		"get_me":   `{"match":{"path_template":"/v2/users/me","methods":["GET"]},"requires":{"provider":"corp","claims":[{"claim":"scp","contains":"read"}]}}`,
		"get_maps": "",
		// ...and scopes AND-ed, and alternatives OR-ed, need theirs.
		"get_user":   `{"match":{"path_template":"/v2/users/{id}","methods":["GET"]},"requires":{"any":[{"provider":"corp","claims":[{"claim":"scp","all_of":["admin","read"]}]},{"provider":"partner"}]}}`,
		"get_avatar": `{"match":{"regex":"/v2/users/[^/]+/avatar\\.[^/]+","methods":["GET"]}}`,
		"get_file":   `{"match":{"path_template":"/v2/files/*.json","methods":["GET"]},"requires":{"all":[{"provider":"corp","claims":[{"claim":"scp","contains":"read"}]},{"provider":"partner","claims":[{"claim":"scp","contains":"files"}]}]}}`,
		// {} among the alternatives: anonymous access is allowed.
		"get_tree": `{"match":{"path_template":"/v2/trees/{id}","methods":["GET"]}}`,
		// apiKey: left to the upstream.
		"list_shapes": `{"match":{"path_template":"/v2/shapes","methods":["GET"]}}`,
		"other":       `{"match":{"prefix":"/"},"requires":{"provider":"corp","claims":[{"claim":"scp","contains":"read"}]}}`,
	} {
		got, ok := p.jwt[name]
		if want == "" && ok || want != "" && got != canon(t, want) {
			t.Errorf("jwt rule %s\n got %s\nwant %s", name, got, want)
		}
	}
	for _, f := range [][2]string{
		{"securitySchemes.partner", `provider "partner" finds its keys by OpenID Connect discovery at https://partner.example`},
		{"securitySchemes.key", "apiKey credentials cannot be checked"},
		{"GET /users/{id}/avatar.{format}", "matched with a regex"},
		{"GET /users/{id}/avatar.{format}", "returns only image/png"},
		{"#/components/schemas/Node", "followed 2 levels deep"},
		{"GET /shapes", "apiKey credentials (key)"},
		{"GET /maps", "patternProperties at odd cannot be expressed"},
		{"GET /maps", "a free-form object at free"},
		{"GET /files/{name}.json", "additionalProperties: true at the top level"},
		{"document", `paths are put under "/v2"`},
	} {
		if !hasFinding(res, f[0], f[1]) {
			t.Errorf("no finding %q at %s", f[1], f[0])
		}
	}
	if strings.Contains(string(res.Config), "password") {
		t.Error("a writeOnly property is allowed in responses")
	}
	accepted(t, res)
}

func TestBasePathOverrideAndLiteralEncoding(t *testing.T) {
	base := "/"
	spec := `openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: "https://api.example/v1"}]
paths:
  /café/a=b: {get: {operationId: x, responses: {"204": {description: none}}}}
  /{a}/{b}/{c}/{d}/{e}/{f}: {get: {operationId: many, responses: {"204": {description: none}}}}
  /{this_name_is_far_too_long}: {get: {operationId: long, responses: {"204": {description: none}}}}
`
	res, err := Generate([]byte(spec), Options{BasePath: &base})
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, res)
	for name, want := range map[string]string{
		// Non-ASCII is percent-encoded as a canonical request carries it;
		// '=' cannot be a template literal, so the path is a regex.
		"x": `{"match":{"regex":"/caf%C3%A9/a=b","methods":["GET"]},"allow":[]}`,
		// Envoy takes at most 5 named variables, of at most 16 bytes.
		"many": `{"match":{"path_template":"/{a}/{b}/{c}/{d}/{e}/*","methods":["GET"]},"allow":[]}`,
		"long": `{"match":{"path_template":"/*","methods":["GET"]},"allow":[]}`,
	} {
		if got := p.response[name]; got != canon(t, want) {
			t.Errorf("%s\n got %s\nwant %s", name, got, want)
		}
	}
	accepted(t, res)
}

// A schema reached more than once becomes a named allowlist, used at every
// place it appears; one reached once is written out in place, even when it
// only wraps a named one (allOf of a $ref, at the top of the wrapper).
func TestNamedAllowlistsForSharedSchemas(t *testing.T) {
	const desc = `
openapi: 3.0.3
info: {title: named, version: "1"}
paths:
  /repos/{id}:
    get:
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Repo"}}}}}
  /users/{id}:
    get:
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/User"}}}}}
  /search:
    get:
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Results"}}}}}
components:
  schemas:
    User: {type: object, properties: {login: {type: string}, id: {type: integer}}}
    Repo:
      type: object
      properties:
        name: {type: string}
        owner: {$ref: "#/components/schemas/User"}
        org: {$ref: "#/components/schemas/User"}
    Results:
      type: object
      properties:
        items: {type: array, items: {$ref: "#/components/schemas/Hit"}}
    Hit:
      allOf:
        - $ref: "#/components/schemas/User"
        - {type: object, properties: {score: {type: number}}}
`
	res, err := Generate([]byte(desc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, res)
	for name, want := range map[string]string{
		"get_repos_id": `["name",{"allowlist":"User","at":"org"},{"allowlist":"User","at":"owner"}]`,
		"get_users_id": `[{"allowlist":"User"}]`,
		"get_search":   `["items.#.score",{"allowlist":"User","at":"items.#"}]`,
	} {
		if got := p.written[name]; got != want {
			t.Errorf("%s\n got %s\nwant %s", name, got, want)
		}
	}
	if got := p.allowlists["User"]; got != `["id","login"]` || len(p.allowlists) != 1 || res.Allowlists != 1 {
		t.Errorf("allowlists %v (%d), want only User: [\"id\",\"login\"]", p.allowlists, res.Allowlists)
	}
	if got, want := p.response["get_search"], `{"allow":["items.#.id","items.#.login","items.#.score"],"match":{"path_template":"/search","methods":["GET"]}}`; got != want {
		t.Errorf("get_search written out\n got %s\nwant %s", got, want)
	}
	accepted(t, res)
}
