// Package telemetrytest holds what the telemetry packages' tests share: the
// secrets every output is grepped for, and a real OTLP/HTTP receiver that
// checks payloads against the official protos. Only tests import it.
package telemetrytest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"google.golang.org/protobuf/encoding/protojson"
)

// Secrets used in the test suite. TestNoSecretLeaks greps every encoded
// event and export for them.
const (
	SecretJWT      = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA"
	SecretPassword = "hunter2-correct-horse"
	SecretAPIKey   = "sk_live_51HxQ9ZsecretKEY"
	SecretCard     = "4111111111111111"
	SecretCVV      = "737"
	SecretSSN      = "078-05-1120"
	SecretQuery    = "q-s3cr3t-value"
	SecretCookie   = "sid-0ddba11c0ffee"
	SecretBasic    = "YWxhZGRpbjpvcGVuc2VzYW1l"
)

// AllSecrets are the secrets and the parts of them (a JWT's signature and
// payload) that no output may contain.
var AllSecrets = []string{SecretJWT, SecretPassword, SecretAPIKey, SecretCard, SecretSSN, SecretQuery, SecretCookie, SecretBasic,
	"c2lnbmF0dXJlLXNlY3JldA", "eyJzdWIiOiJhbGljZSJ9"}

// OTLPReceiver is a real HTTP OTLP/JSON logs endpoint that decodes every
// payload with the official protos and keeps the raw bodies for the spec
// checks protojson does not make. It decodes into logs/v1 LogsData, which
// the OTLP spec defines as the same message as ExportLogsServiceRequest
// (field 1, resource_logs): the collector/logs/v1 package would pull in
// grpc-gateway, which the module does not depend on.
type OTLPReceiver struct {
	mu       sync.Mutex
	Requests []*logspb.LogsData
	Raw      [][]byte
	Status   int
	Resp     string
	Errs     []error
}

func (r *OTLPReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && (req.Method != http.MethodPost || req.URL.Path != "/v1/logs" || req.Header.Get("content-type") != "application/json") {
		err = io.ErrUnexpectedEOF
	}
	var msg logspb.LogsData
	if err == nil {
		err = protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(body, &msg)
	}
	if err != nil {
		r.Errs = append(r.Errs, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Requests = append(r.Requests, &msg)
	r.Raw = append(r.Raw, body)
	status := r.Status
	if status == 0 {
		status = 200
	}
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, r.Resp)
}

// Post stands in for the plugin's proxy_http_call.
func Post(t *testing.T, url string, payload []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/logs", bytes.NewReader(payload))
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

var (
	lowerCamel = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	decimal    = regexp.MustCompile(`^[0-9]+$`)
	hex32      = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hex16      = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// CheckOTLPJSONSpec applies the OTLP/JSON encoding rules
// (opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding")
// that a lenient protojson decode does not enforce.
func CheckOTLPJSONSpec(t *testing.T, raw []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := path + "." + k
				if !lowerCamel.MatchString(k) {
					t.Errorf("%s: key is not lowerCamelCase", p)
				}
				switch k {
				case "traceId":
					if s, _ := e.(string); !hex32.MatchString(s) {
						t.Errorf("%s = %v: want 32 lowercase hex digits", p, e)
					}
				case "spanId":
					if s, _ := e.(string); !hex16.MatchString(s) {
						t.Errorf("%s = %v: want 16 lowercase hex digits", p, e)
					}
				case "timeUnixNano", "observedTimeUnixNano", "intValue":
					if s, ok := e.(string); !ok || !decimal.MatchString(strings.TrimPrefix(s, "-")) {
						t.Errorf("%s = %#v: want a decimal string", p, e)
					}
				case "severityNumber":
					if n, ok := e.(json.Number); !ok || !decimal.MatchString(string(n)) {
						t.Errorf("%s = %#v: want an integer enum value", p, e)
					}
				}
				walk(p, e)
			}
		case []any:
			for i, e := range x {
				walk(path+"["+strconv.Itoa(i)+"]", e)
			}
		}
	}
	walk("", v)
}
