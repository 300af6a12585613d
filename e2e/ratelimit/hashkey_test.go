package ratelimit

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// The slot hash key of each policy is one for all workers, lives in shared
// data only, and appears in no log line at any level, whatever happens to
// the table (new keys, a limited key, evictions of a full table).
func TestSlotHashKeySharedByWorkersAndNeverLogged(t *testing.T) {
	e := start(t, `[{"name": "per_key", "key": ["header:x-k"], "max_keys": 8, "limits": [{"requests": 2, "per": "60s"}]},
		{"name": "per_ip", "key": ["client_ip"], "limits": [{"requests": 100, "per": "60s"}]}]`,
		opts{workers: 4, module: debugModule(t)})
	for i := range 80 { // 4 workers take turns; 10 × max_keys distinct keys
		e.do(t, req{headers: map[string]string{"x-k": "client-" + strconv.Itoa(i)}})
	}
	// One client's requests, spread over the 4 workers, count together.
	codes := ""
	for range 4 {
		codes += strconv.Itoa(e.do(t, req{headers: map[string]string{"x-k": "one-client"}}).Code) + " "
	}
	if codes != "200 200 429 429 " {
		t.Fatalf("one key over 4 workers: %s; want 200 200 429 429 (the workers must find it in the same slot)", codes)
	}
	sd := e.p.SharedData()
	var keys [][]byte
	for _, k := range sd.Keys() {
		if strings.HasSuffix(k, "/hashkey") {
			v, _, _ := sd.Get(k)
			keys = append(keys, v)
		}
	}
	if len(keys) != 2 {
		t.Fatalf("%d hash keys in shared data, want one per policy", len(keys))
	}
	var logs strings.Builder
	for _, l := range e.p.Logs() {
		logs.WriteString(l.Message)
		logs.WriteByte('\n')
	}
	if logs.Len() == 0 {
		t.Fatal("no logs captured")
	}
	for _, k := range keys {
		for _, form := range []string{hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)),
			base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), string(k),
			strconv.FormatUint(binary.LittleEndian.Uint64(k[:8]), 10), strconv.FormatUint(binary.LittleEndian.Uint64(k[8:]), 10)} {
			if strings.Contains(logs.String(), form) {
				t.Fatalf("a log line holds the slot hash key (as %q)", form)
			}
		}
	}
}
