package otlp

import "testing"

func TestClassifyExport(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		failed bool
		want   ExportResult
	}{
		{200, `{}`, false, ExportResult{Accepted: true}},
		{200, ``, false, ExportResult{Accepted: true}},
		{200, `{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"bad"}}`, false, ExportResult{Accepted: true, Reason: "partial_success", Rejected: 3}},
		{200, `{"partialSuccess":{"rejectedLogRecords":2}}`, false, ExportResult{Accepted: true, Reason: "partial_success", Rejected: 2}},
		{429, ``, false, ExportResult{Retryable: true, Reason: "http_status"}},
		{503, `upstream connect error`, false, ExportResult{Retryable: true, Reason: "http_status"}},
		{400, `bad`, false, ExportResult{Reason: "http_status"}},
		{0, ``, true, ExportResult{Retryable: true, Reason: "call_failed"}},
	} {
		if got := ClassifyExport(c.status, []byte(c.body), c.failed); got != c.want {
			t.Errorf("ClassifyExport(%d, %q, %v) = %+v, want %+v", c.status, c.body, c.failed, got, c.want)
		}
	}
}

func FuzzClassifyExport(f *testing.F) {
	f.Add(200, []byte(`{"partialSuccess":{"rejectedLogRecords":"1"}}`))
	f.Add(503, []byte(`x`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r := ClassifyExport(status, body, false)
		if r.Accepted && r.Retryable {
			t.Fatal("accepted and retryable")
		}
	})
}
