package inventory_test

import (
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/inventory"
	"github.com/apiguard/apiguard/internal/settings"
)

func TestConfigDecodesAndRefusesWithPaths(t *testing.T) {
	s, err := settings.Parse([]byte(`{"response_inventory": {
		"routes": [{"name": "echo", "match": {"prefix": "/echo"}}, {"name": "rest", "match": {"prefix": "/"}}, {"match": {"path_template": "/users/{id}"}}],
		"sample_rate": 0.25, "classes": {"card_number": "mask", "private_key": "deny"},
		"custom_classes": [{"name": "employee_id", "value": "^E[0-9]{6}$", "policy": "mask"}],
		"max_entries": 500, "export_interval": "5s", "max_observed_bytes": 65536}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := s.ResponseInventory
	if got := strings.Join(c.RouteNames(), ","); got != "echo,rest,/users/{id}" || c.Rate() != 0.25 || c.Entries() != 500 || c.Interval().Seconds() != 5 || c.ObservedBytes() != 64<<10 {
		t.Errorf("routes %s, rate %v, entries %d, interval %v, observed bytes %d", got, c.Rate(), c.Entries(), c.Interval(), c.ObservedBytes())
	}
	if def := (&inventory.Config{}).ObservedBytes(); def != 1<<20 {
		t.Errorf("max_observed_bytes defaults to %d, want 1 MiB", def)
	}
	if l := inventory.MetricLabel(c.Routes[2]); l != "users_id" {
		t.Errorf("template label %q", l)
	}
	cl, err := c.Classifier()
	if err != nil {
		t.Fatal(err)
	}
	if cl.Policy(cl.Index("card_number")) != inventory.Mask || cl.Policy(cl.Index("private_key")) != inventory.Deny ||
		cl.Policy(cl.Index("email")) != inventory.Observe || cl.Policy(cl.Index("employee_id")) != inventory.Mask {
		t.Error("policies not as configured")
	}
	for _, c := range []struct{ doc, want string }{
		{`{"classes": {"card": "mask"}}`, "response_inventory.classes.card: unknown class"},
		{`{"classes": {"email": "drop"}}`, "response_inventory.classes.email: want observe, mask or deny"},
		{`{"sample_rate": 2}`, "response_inventory.sample_rate: 2: want a number from 0 to 1"},
		{`{"custom_classes": [{"name": "x"}]}`, "response_inventory.custom_classes[0]: set key, value or both"},
		{`{"custom_classes": [{"name": "x", "key": "("}]}`, "response_inventory.custom_classes[0].key: not an RE2 pattern"},
		{`{"custom_classes": [{"name": "email", "key": "e"}]}`, `response_inventory.custom_classes[0].name: class "email" already exists`},
		{`{"custom_classes": [{"name": "x", "key": "e", "policy": "block"}]}`, "response_inventory.custom_classes[0].policy"},
		{`{"routes": [{"name": "a"}, {"name": "a"}]}`, `response_inventory.routes[1].name: duplicate route name "a"`},
		{`{"routes": [{"name": "A-b"}]}`, "response_inventory.routes[0].name"},
		{`{"routes": [{"match": {"prefix": "/a"}}]}`, "response_inventory.routes[0].name: required unless the match is a path_template"},
		{`{"routes": [{"match": {"path_template": "/{id}"}}, {"name": "id", "match": {}}]}`, `response_inventory.routes[1].name: duplicate route name "id"`},
		{`{"max_entries": 100000}`, "response_inventory.max_entries"},
		{`{"export_interval": "10ms"}`, "response_inventory.export_interval: at least 1s"},
		{`{"max_observed_bytes": 100}`, "response_inventory.max_observed_bytes: 100: want 1024 to 16777216"},
		{`{"max_observed_bytes": 16777217}`, "response_inventory.max_observed_bytes: 16777217: want 1024 to 16777216"},
		{`{"max_observed_bytes": -1}`, "response_inventory.max_observed_bytes: -1: want 1024 to 16777216"},
		{`{"max_observed_bytes": 1.5}`, "response_inventory.max_observed_bytes"},
		{`{"sample": 1}`, "response_inventory.sample: unknown key"},
	} {
		_, err := settings.Parse([]byte(`{"response_inventory": ` + c.doc + `}`))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.doc, err, c.want)
		}
	}
}
