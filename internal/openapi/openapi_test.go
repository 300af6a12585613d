package openapi

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/validate"
)

// petstoreProviders is what an operator passes for the Petstore's OAuth2
// scheme, which says how clients get tokens but not who signs them.
var petstoreProviders = map[string]json.RawMessage{
	"petstore_auth": json.RawMessage(`{"issuer": "https://petstore3.swagger.io", "audiences": ["petstore"],
	  "remote_jwks": {"cluster": "idp", "uri": "https://petstore3.swagger.io/.well-known/jwks.json"}}`),
}

func generateFile(t *testing.T, file string, opts Options) (*Result, parsed) {
	t.Helper()
	spec, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Generate(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res, parse(t, res)
}

// parsed is the generated configuration, rules by name.
type parsed struct {
	jwt map[string]string // name → {"match":…,"requires":…} as compact JSON
	// name → {"match":…,"allow":…} as compact JSON, the allow list written
	// out: the named allowlists it uses expanded, paths sorted
	response map[string]string
	written  map[string]string // name → the allow list as generated
	// allowlists are the named allowlists as generated, compact JSON
	allowlists map[string]string
	jwtOrder   []string
	rfOrder    []string
}

// expandAllow writes out an allow list: its paths, and the paths of every
// named allowlist it uses below the use's "at", sorted and without
// duplicates.
func expandAllow(t *testing.T, allow []json.RawMessage, lists map[string][]json.RawMessage) []string {
	t.Helper()
	set := map[string]bool{}
	var walk func(prefix string, entries []json.RawMessage, depth int)
	walk = func(prefix string, entries []json.RawMessage, depth int) {
		if depth > 32 {
			t.Fatal("named allowlists nest too deep")
		}
		join := func(p string) string {
			if prefix == "" {
				return p
			}
			if p == "" {
				return prefix
			}
			return prefix + "." + p
		}
		for _, e := range entries {
			var p string
			if json.Unmarshal(e, &p) == nil {
				set[join(p)] = true
				continue
			}
			var use struct{ Allowlist, At string }
			if err := json.Unmarshal(e, &use); err != nil {
				t.Fatal(err)
			}
			l, ok := lists[use.Allowlist]
			if !ok {
				t.Fatalf("allowlist %q is not defined", use.Allowlist)
			}
			walk(join(use.At), l, depth+1)
		}
	}
	walk("", allow, 0)
	out := []string{}
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func parse(t *testing.T, res *Result) parsed {
	t.Helper()
	var doc struct {
		JWT *struct {
			Rules []map[string]json.RawMessage `json:"rules"`
		} `json:"jwt"`
		RF struct {
			Rules      []map[string]json.RawMessage `json:"rules"`
			Allowlists map[string][]json.RawMessage `json:"allowlists"`
		} `json:"response_filter"`
	}
	if err := json.Unmarshal(res.Config, &doc); err != nil {
		t.Fatal(err)
	}
	p := parsed{jwt: map[string]string{}, response: map[string]string{}, written: map[string]string{}, allowlists: map[string]string{}}
	for name, l := range doc.RF.Allowlists {
		b, _ := json.Marshal(l)
		p.allowlists[name] = string(b)
	}
	rest := func(r map[string]json.RawMessage) (string, string) {
		var name string
		json.Unmarshal(r["name"], &name)
		delete(r, "name")
		b, _ := json.Marshal(r)
		return name, string(b)
	}
	if doc.JWT != nil {
		for _, r := range doc.JWT.Rules {
			n, v := rest(r)
			p.jwt[n] = v
			p.jwtOrder = append(p.jwtOrder, n)
		}
	}
	for _, r := range doc.RF.Rules {
		if raw, ok := r["allow"]; ok {
			var allow []json.RawMessage
			if err := json.Unmarshal(raw, &allow); err != nil {
				t.Fatal(err)
			}
			written, _ := json.Marshal(allow)
			r["allow"], _ = json.Marshal(expandAllow(t, allow, doc.RF.Allowlists))
			var name string
			json.Unmarshal(r["name"], &name)
			p.written[name] = string(written)
		}
		n, v := rest(r)
		p.response[n] = v
		p.rfOrder = append(p.rfOrder, n)
	}
	return p
}

// canon writes a rule's JSON as parse does: top-level keys sorted.
func canon(t *testing.T, rule string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(rule), &m); err != nil {
		t.Fatalf("%s: %v", rule, err)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// accepted fails the test unless validate finds no error in the config.
func accepted(t *testing.T, res *Result) []string {
	t.Helper()
	var warnings []string
	for _, f := range validate.Check(validate.Document{Data: res.Config}) {
		if f.Severity == validate.SeverityError {
			t.Errorf("validate: %s: %s", f.Path, f.Msg)
			continue
		}
		warnings = append(warnings, f.Rule+" "+f.Path)
	}
	return warnings
}

func hasFinding(res *Result, where, substr string) bool {
	return slices.ContainsFunc(res.Findings, func(f Finding) bool {
		return f.Where == where && strings.Contains(f.What, substr)
	})
}

// The acceptance table: for chosen operations of the committed real
// descriptions, the exact allow paths and JWT rules produced.
func TestRealDescriptionsChosenOperations(t *testing.T) {
	pet, petRules := generateFile(t, "testdata/petstore/openapi.yaml", Options{Providers: petstoreProviders})
	museum, museumRules := generateFile(t, "testdata/museum/openapi.yaml", Options{})
	for _, tc := range []struct {
		name string
		got  map[string]string
		rule string
		want string // compact JSON of the rule without its name; "" = no such rule
	}{
		{"petstore: a list of pets, $ref'd items with nested objects and arrays", petRules.response, "find_pets_by_status",
			`{"allow":["#.category.id","#.category.name","#.id","#.name","#.photoUrls.#","#.status","#.tags.#.id","#.tags.#.name"],"match":{"path_template":"/api/v3/pet/findByStatus","methods":["GET"]}}`},
		{"petstore: PUT and POST /pet return the same Pet and share a rule", petRules.response, "update_pet",
			`{"allow":["category.id","category.name","id","name","photoUrls.#","status","tags.#.id","tags.#.name"],"match":{"path_template":"/api/v3/pet","methods":["PUT","POST"]}}`},
		{"petstore: a map of integers (additionalProperties)", petRules.response, "get_inventory",
			`{"allow":["*"],"match":{"path_template":"/api/v3/store/inventory","methods":["GET"]}}`},
		{"petstore: a response without content", petRules.response, "delete_order",
			`{"allow":[],"match":{"path_template":"/api/v3/store/order/{orderId}","methods":["DELETE"]}}`},
		{"petstore: a JSON string is passed unfiltered", petRules.response, "login_user",
			`{"bypass":true,"match":{"path_template":"/api/v3/user/login","methods":["GET"]}}`},
		{"petstore: undocumented routes lose every field", petRules.response, "undocumented", `{"allow":[],"match":{}}`},
		{"petstore: OAuth2 scopes become a scope condition", petRules.jwt, "find_pets_by_status",
			`{"match":{"path_template":"/api/v3/pet/findByStatus","methods":["GET"]},"requires":{"provider":"petstore_auth","claims":[{"claim":"scope","all_of":["read:pets","write:pets"]}]}}`},
		{"petstore: a variable path after the literal ones", petRules.jwt, "delete_pet",
			`{"match":{"path_template":"/api/v3/pet/{petId}","methods":["DELETE"]},"requires":{"provider":"petstore_auth","claims":[{"claim":"scope","all_of":["read:pets","write:pets"]}]}}`},
		{"petstore: api_key OR OAuth2 is left to the upstream: no rule", petRules.jwt, "get_pet_by_id", ""},
		{"petstore: the catch-all is public (no global security)", petRules.jwt, "other", `{"match":{"prefix":"/"}}`},
		{"museum (3.1): $ref with sibling keywords, arrays of a $ref'd string", museumRules.response, "get_museum_hours",
			`{"allow":["#.date","#.timeClose","#.timeOpen","title","type"],"match":{"path_template":"/_mock/docs/openapi/museum-api/museum-hours","methods":["GET"]}}`},
		{"museum (3.1): GET and PATCH return the same event", museumRules.response, "get_special_event",
			`{"allow":["dates.#","eventDescription","eventId","location","name","price","title","type"],"match":{"path_template":"/_mock/docs/openapi/museum-api/special-events/{eventId}","methods":["GET","PATCH"]}}`},
		{"museum (3.1): an image with JSON errors", museumRules.response, "get_ticket_code",
			`{"allow":["title","type"],"match":{"path_template":"/_mock/docs/openapi/museum-api/tickets/{ticketId}/qr","methods":["GET"]}}`},
	} {
		got, ok := tc.got[tc.rule]
		switch {
		case tc.want == "" && ok:
			t.Errorf("%s: rule %s exists: %s", tc.name, tc.rule, got)
		case tc.want != "" && got != tc.want:
			t.Errorf("%s: rule %s\n got %s\nwant %s", tc.name, tc.rule, got, tc.want)
		}
	}
	// A schema the rules reach more than once is a named allowlist, used
	// where it appears (above, the rules' lists are compared written out);
	// one reached once (Category, Tag, MuseumHours) is written out in place.
	for _, tc := range []struct {
		got       map[string]string
		key, want string
	}{
		{petRules.written, "find_pets_by_status", `[{"allowlist":"Pet","at":"#"}]`},
		{petRules.written, "update_pet", `[{"allowlist":"Pet"}]`},
		{petRules.allowlists, "Pet", `["category.id","category.name","id","name","photoUrls.#","status","tags.#.id","tags.#.name"]`},
		{museumRules.written, "get_museum_hours", `["#.date","#.timeClose","#.timeOpen",{"allowlist":"Error"}]`},
		{museumRules.allowlists, "Error", `["title","type"]`},
	} {
		if got := tc.got[tc.key]; got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.key, got, tc.want)
		}
	}
	if pet.Allowlists != len(petRules.allowlists) || museum.Allowlists != len(museumRules.allowlists) {
		t.Errorf("Result.Allowlists %d and %d, the configs have %d and %d", pet.Allowlists, museum.Allowlists, len(petRules.allowlists), len(museumRules.allowlists))
	}
	// Literal paths come before the variable ones they overlap.
	if i, j := slices.Index(petRules.jwtOrder, "find_pets_by_status"), slices.Index(petRules.jwtOrder, "delete_pet"); i < 0 || j < 0 || i > j {
		t.Errorf("jwt rule order %v", petRules.jwtOrder)
	}
	for _, f := range []struct {
		res         *Result
		where, what string
	}{
		{pet, "GET /pet/{petId}", "apiKey credentials (api_key)"},
		{pet, "GET /pet/findByStatus", "also returns application/xml"},
		{pet, "#/components/schemas/User", "declares password"},
		{pet, "securitySchemes.api_key", "cannot be checked"},
		{museum, "securitySchemes.MuseumPlaceholderAuth", "http basic credentials cannot be checked"},
		{museum, "document", "webhooks"},
		{museum, "GET /tickets/{ticketId}/qr", "image/png"},
	} {
		if !hasFinding(f.res, f.where, f.what) {
			t.Errorf("no finding %q at %s in\n%v", f.what, f.where, f.res.Findings)
		}
	}
	if pet.Operations != 19 || museum.Operations != 8 {
		t.Errorf("operations %d and %d, want 19 and 8", pet.Operations, museum.Operations)
	}
}

func TestRealDescriptionsAreAcceptedByValidate(t *testing.T) {
	pet, _ := generateFile(t, "testdata/petstore/openapi.yaml", Options{Providers: petstoreProviders})
	if w := accepted(t, pet); !slices.Equal(w, []string{"allow-everything response_filter.rules[3].allow[0]"}) {
		t.Errorf("petstore warnings %q, want only the inventory map", w)
	}
	museum, _ := generateFile(t, "testdata/museum/openapi.yaml", Options{})
	if w := accepted(t, museum); len(w) > 0 {
		t.Errorf("museum warnings %q", w)
	}
}

func TestOAuth2SchemeWithoutProviderIsAnError(t *testing.T) {
	spec, _ := os.ReadFile("testdata/petstore/openapi.yaml")
	_, err := Generate(spec, Options{})
	if !errors.Is(err, ErrNeedsProvider) || !strings.Contains(err.Error(), "petstore_auth (oauth2)") {
		t.Errorf("error %v, want one naming petstore_auth", err)
	}
	_, err = Generate(spec, Options{Providers: map[string]json.RawMessage{"petstore_auth": petstoreProviders["petstore_auth"], "typo": json.RawMessage(`{}`)}})
	if err == nil || !strings.Contains(err.Error(), `"typo"`) {
		t.Errorf("a provider for an unknown scheme: error %v", err)
	}
}
