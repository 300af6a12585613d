package telemetry_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/telemetry"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
	"github.com/apiguard/apiguard/internal/verdict"
)

// A VM's audit pipeline with the log sink: the plugin builds the event over
// the stream and writes the returned line with proxy_log.
func ExampleAuditor_Record() {
	cfg, _ := telemetry.Config{Instance: "orders", Audit: telemetry.AuditConfig{Sink: telemetry.SinkLog, Headers: []string{"authorization"}}}.Resolve("")
	a := telemetry.NewAuditor(cfg, nil, "v1")
	e := &audit.Event{
		Time:      time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC),
		Method:    "GET",
		Path:      "/orders?access_token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln",
		Status:    401,
		Decisions: []audit.Decision{{Policy: "authn", Decision: verdict.Deny, Reason: "token_expired"}},
		Headers:   a.Masker().MaskHeaders([]audit.Header{{Name: "authorization", Value: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"}}),
		Latency:   1500 * time.Microsecond,
	}
	fmt.Println(a.LogLevel())
	fmt.Printf("%s\n", a.Record(e, e.Time))
	// Output:
	// warn
	// {"type":"request","time":"2026-11-28T18:00:00Z","method":"GET","path":"/orders?access_token=REDACTED","status":401,"decisions":[{"policy":"authn","decision":"deny","reason":"token_expired"}],"latency_ms":1.5,"bytes_in":0,"bytes_out":0,"headers":[{"name":"authorization","value":"Bearer *********"}]}
}

// Metric names and the Prometheus families they become.
func ExampleCatalogue() {
	descs, _ := metrics.Catalogue(metrics.Inventory{Instance: "orders", Policies: []string{"per_user"}})
	for _, d := range descs {
		if strings.HasPrefix(d.Name, "apiguard.orders.ratelimit.") && strings.HasSuffix(d.Name, ".errors_total") {
			fmt.Println(d.Name)
		}
	}
	fmt.Println(len(descs), "metrics")
	// Output:
	// apiguard.orders.ratelimit.policy.per_user.reason.table_full.errors_total
	// apiguard.orders.ratelimit.policy.per_user.reason.store_contended.errors_total
	// apiguard.orders.ratelimit.policy.per_user.reason.store_error.errors_total
	// apiguard.orders.ratelimit.policy.per_user.reason.global_reset.errors_total
	// apiguard.orders.ratelimit.policy.per_user.reason.global_unavailable.errors_total
	// apiguard.orders.ratelimit.policy.per_user.reason.global_timeout.errors_total
	// apiguard.orders.ratelimit.policy.per_user.reason.global_service_error.errors_total
	// apiguard.orders.ratelimit.policy.per_user.reason.global_unknown.errors_total
	// apiguard.orders.ratelimit.policy.per_user.reason.global_bad_answer.errors_total
	// apiguard.orders.ratelimit.policy.per_user.reason.global_unexpected_status.errors_total
	// apiguard.orders.ratelimit.policy.per_user.reason.other.errors_total
	// 127 metrics
}
