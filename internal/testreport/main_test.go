package main

import (
	"bytes"
	"strings"
	"testing"
)

// A recorded go test -json stream: one package passes with a skip, one
// fails, one has no tests.
const stream = `{"Action":"start","Package":"example.com/a"}
{"Action":"run","Package":"example.com/a","Test":"TestFleet"}
{"Action":"output","Package":"example.com/a","Test":"TestFleet","Output":"=== RUN   TestFleet\n"}
{"Action":"output","Package":"example.com/a","Test":"TestFleet","Output":"    stack_test.go:41: redis-server is not on PATH: run e2e/global/install.sh\n"}
{"Action":"output","Package":"example.com/a","Test":"TestFleet","Output":"--- SKIP: TestFleet (0.00s)\n"}
{"Action":"skip","Package":"example.com/a","Test":"TestFleet","Elapsed":0}
{"Action":"run","Package":"example.com/a","Test":"TestOK"}
{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"example.com/a","Test":"TestOK"}
{"Action":"output","Package":"example.com/a","Output":"ok  \texample.com/a\t0.01s\n"}
{"Action":"pass","Package":"example.com/a"}
{"Action":"run","Package":"example.com/b","Test":"TestBroken"}
{"Action":"output","Package":"example.com/b","Test":"TestBroken","Output":"    b_test.go:9: want 2, got 3\n"}
{"Action":"output","Package":"example.com/b","Test":"TestBroken","Output":"--- FAIL: TestBroken (0.00s)\n"}
{"Action":"fail","Package":"example.com/b","Test":"TestBroken"}
{"Action":"output","Package":"example.com/b","Output":"FAIL\texample.com/b\t0.01s\n"}
{"Action":"fail","Package":"example.com/b"}
{"Action":"output","Package":"example.com/c","Output":"?   \texample.com/c\t[no test files]\n"}
{"Action":"skip","Package":"example.com/c"}
`

func TestReportShowsFailuresAndListsSkips(t *testing.T) {
	var out bytes.Buffer
	skips := report(strings.NewReader(stream), &out)
	summarize(skips, &out)
	got := out.String()
	for _, want := range []string{
		"ok  \texample.com/a\t0.01s\n",
		"    b_test.go:9: want 2, got 3\n--- FAIL: TestBroken",
		"FAIL\texample.com/b",
		"?   \texample.com/c\t[no test files]\n",
		"skipped: 1 tests\n  SKIP example.com/a TestFleet: redis-server is not on PATH: run e2e/global/install.sh\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "TestOK") {
		t.Errorf("a passing test's output was printed:\n%s", got)
	}
}

func TestNoSkips(t *testing.T) {
	var out bytes.Buffer
	summarize(nil, &out)
	if out.String() != "skipped: none\n" {
		t.Errorf("got %q", out.String())
	}
}
