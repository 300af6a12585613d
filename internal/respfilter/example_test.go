package respfilter_test

import (
	"fmt"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
)

// Example shows the calls a plugin makes for one response.
func Example() {
	var cfg respfilter.Config
	err := config.Decode([]byte(`{"rules": [{"match": {"prefix": "/users"},
		"allow": ["id", "name", "orders.#.id"],
		"allow_for_claims": [{"claims": [{"claim": "scope", "contains": "admin"}], "allow": ["email"]}]}]}`), &cfg)
	if err != nil {
		panic(err)
	}
	f, err := respfilter.New(cfg)
	if err != nil {
		panic(err)
	}
	// Request headers: find the policy.
	p := f.Match(&route.Request{Method: "GET", Path: "/users/7", Header: func(string) (string, bool) { return "", false }})
	fmt.Println("Accept-Encoding:", respfilter.UpstreamAcceptEncoding("gzip, br"))
	// Response headers.
	d := p.DecideHeaders(respfilter.ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json"})
	fmt.Println("headers:", d.Action)
	// End of the response body.
	body := []byte(`{"id":7,"name":"Ann","email":"a@x","password_hash":"…","orders":[{"id":1,"card":"4111"}]}`)
	out, o := p.Process(d, body, map[string]any{"scope": "read"})
	fmt.Println("body:", o.Action, string(out))
	fmt.Println("removed:", o.Removed, o.RemovedPaths)
	out, _ = p.Process(d, body, map[string]any{"scope": "read admin"})
	fmt.Println("admin:", string(out))
	// Output:
	// Accept-Encoding: gzip
	// headers: filter
	// body: replace {"id":7,"name":"Ann","orders":[{"id":1}]}
	// removed: 3 [email password_hash orders.#.card]
	// admin: {"id":7,"name":"Ann","email":"a@x","orders":[{"id":1}]}
}
