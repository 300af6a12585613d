package verdict

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var policies = []Policy{PolicyRequest, PolicyAuthn, PolicyRateLimit, PolicyRespFilter, PolicyInternal}

// A reason alone says which policy decided: no two policies share a reason,
// so the x-apiguard-reason header, an alert rule or a log grep never has
// to guess.
func TestReasonsAreUniqueAcrossPolicies(t *testing.T) {
	owner := map[Reason]Policy{}
	for _, p := range policies {
		mine := map[Reason]bool{}
		for _, d := range []Decision{Allow, Deny} {
			for _, r := range Reasons(p, d) {
				mine[r] = true
			}
		}
		for r := range mine {
			if q, ok := owner[r]; ok {
				t.Errorf("reason %q belongs to both %s and %s", r, q, p)
			}
			owner[r] = p
		}
	}
	if len(owner) < 40 {
		t.Errorf("only %d reasons: a closed set went missing", len(owner))
	}
}

// Reasons travel unchanged as metric label values, Envoy response code
// details (no whitespace allowed) and header values.
func TestReasonsAreMetricSegments(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	for _, p := range policies {
		for _, d := range []Decision{Allow, Deny} {
			for _, r := range Reasons(p, d) {
				if !valid.MatchString(string(r)) {
					t.Errorf("%s %s reason %q is not [a-z][a-z0-9_]*", p, d, r)
				}
			}
		}
	}
	if got := Details(RateLimited); got != "apiguard_rate_limited" {
		t.Errorf("Details = %q", got)
	}
}

// A failure reason is an allow or a deny as the operator's failure mode
// says; every other reason has one decision.
func TestOnlyFailuresTakeBothDecisions(t *testing.T) {
	failures := map[Reason]bool{}
	for _, r := range RateLimitFailures() {
		failures[r] = true
	}
	for _, r := range FilterErrors() {
		failures[r] = true
	}
	for _, p := range policies {
		allow := map[Reason]bool{}
		for _, r := range Reasons(p, Allow) {
			allow[r] = true
		}
		for _, r := range Reasons(p, Deny) {
			if allow[r] && !failures[r] {
				t.Errorf("%s reason %q is both an allow and a deny", p, r)
			}
		}
	}
}

// docs/vocabulary.md lists every reason, so the reference cannot drift
// from the code.
func TestVocabularyDocListsEveryReason(t *testing.T) {
	doc, err := os.ReadFile("../../docs/vocabulary.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range policies {
		for _, d := range []Decision{Allow, Deny} {
			for _, r := range Reasons(p, d) {
				if !strings.Contains(string(doc), "| `"+string(r)+"` |") {
					t.Errorf("docs/vocabulary.md lacks %s reason %q", p, r)
				}
			}
		}
	}
}
