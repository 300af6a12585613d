package otlp

import (
	"encoding/json"
	"strconv"

	"github.com/apiguard/apiguard/internal/telemetry/internal/jsonenc"
)

// Resource describes the emitter in every payload.
type Resource struct {
	ServiceName  string // service.name
	Instance     string // apiguard.instance
	ScopeVersion string // instrumentation scope version (the plugin's version)
}

// Payload joins encoded LogRecords into one ExportLogsServiceRequest body
// (content-type application/json) for POST to the collector's /v1/logs.
func Payload(res Resource, records [][]byte) ([]byte, error) {
	n := 256 + len(res.ServiceName) + len(res.Instance) + len(res.ScopeVersion)
	for _, r := range records {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"resourceLogs":[{"resource":{"attributes":[`...)
	a := jsonenc.Attrs{B: b}
	service := res.ServiceName
	if service == "" {
		service = "apiguard"
	}
	a.Str("service.name", service)
	a.Str("apiguard.instance", res.Instance)
	b = append(a.B, `]},"scopeLogs":[{"scope":{"name":"apiguard"`...)
	if res.ScopeVersion != "" {
		b = append(b, `,"version":`...)
		b = jsonenc.AppendString(b, res.ScopeVersion)
	}
	b = append(b, `},"logRecords":[`...)
	for i, r := range records {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	b = append(b, `]}]}]}`...)
	return b, nil
}

// ExportResult classifies the collector's answer to one export call.
type ExportResult struct {
	Accepted  bool   // the batch is done (fully or partially accepted)
	Retryable bool   // not accepted, and worth sending again
	Reason    string // for OTLPFailed when not fully accepted: a member of the catalogue's OTLP failure reasons
	Rejected  int    // records the collector rejected in a partial success
}

// ClassifyExport judges an export call the way the OTLP/HTTP spec says a
// client must: 2xx is success (a body with partialSuccess.rejectedLogRecords
// names records dropped for good); 429, 502, 503 and 504 are retryable;
// other statuses are not. callFailed means no HTTP answer at all (Envoy
// reports timeouts and connection failures as 503/504 answers, so those
// arrive as statuses and are retried too).
func ClassifyExport(status int, body []byte, callFailed bool) ExportResult {
	switch {
	case callFailed:
		return ExportResult{Retryable: true, Reason: "call_failed"}
	case status >= 200 && status < 300:
		var resp struct {
			PartialSuccess struct {
				RejectedLogRecords json.Number `json:"rejectedLogRecords"`
			} `json:"partialSuccess"`
		}
		if len(body) > 0 && json.Unmarshal(body, &resp) == nil {
			if n, err := strconv.Atoi(resp.PartialSuccess.RejectedLogRecords.String()); err == nil && n > 0 {
				return ExportResult{Accepted: true, Reason: "partial_success", Rejected: n}
			}
		}
		return ExportResult{Accepted: true}
	case status == 429 || status == 502 || status == 503 || status == 504:
		return ExportResult{Retryable: true, Reason: "http_status"}
	default:
		return ExportResult{Reason: "http_status"}
	}
}
