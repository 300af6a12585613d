package ociimage

import (
	"strings"
	"testing"
)

func TestBuildRefusesWhatIsNotWasm(t *testing.T) {
	if _, err := Build([]byte("#!/bin/sh\necho hi\n"), "1"); err == nil {
		t.Error("Build accepted a shell script")
	}
}

func TestPin(t *testing.T) {
	plugin := "spec:\n  url: oci://ghcr.io/x/y:0.1.0\n  imagePullPolicy: IfNotPresent\n"
	got := string(Pin([]byte(plugin), "oci://reg/x/y:0.2.0", "ab12"))
	want := "spec:\n  url: oci://reg/x/y:0.2.0\n  sha256: \"ab12\"\n  imagePullPolicy: IfNotPresent\n"
	if got != want {
		t.Errorf("WasmPlugin:\n%s\nwant:\n%s", got, want)
	}
	filter := "        http_uri:\n          uri: oci://ghcr.io/x/y:0.1.0\n        sha256: \"0000\"\n"
	got = string(Pin([]byte(filter), "oci://reg/x/y:0.2.0", "ab12"))
	if !strings.Contains(got, "uri: oci://reg/x/y:0.2.0\n") || !strings.Contains(got, `sha256: "ab12"`) || strings.Count(got, "sha256") != 1 {
		t.Errorf("EnvoyFilter:\n%s", got)
	}
}
