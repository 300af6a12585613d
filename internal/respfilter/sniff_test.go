package respfilter

import "testing"

// JSON never passes as "not JSON" behind whitespace, a BOM, a script guard
// or a JSONP callback; gRPC is never JSON.
func TestSniffSeesJSONBehindPrefixes(t *testing.T) {
	for _, body := range []string{
		`{"a":1}`, " \n[1]", "\f{\"a\":1}", "\v[1]", "\xef\xbb\xbf{}", "\xc2\xa0{}", "\xe2\x80\xa8{}", "\xef\xbb\xbf\xef\xbb\xbf[]",
		`)]}'` + "\n{\"a\":1}", `while(1);{"a":1}`, `for(;;);[1]`, `cb({"a":1})`, `jQuery123_4({"a":1});`, `/**/cb([1])`, `window.cb( {"a":1})`,
		"{\"a\":1}\n{\"b\":2}\n",
	} {
		if got := sniff([]byte(body)); got != sniffJSON {
			t.Errorf("sniff(%q) = %d, want JSON", body, got)
		}
	}
	for _, body := range []string{"hello", "Hello (world)", "<html>", "\x00\x00\x00\x00\x05", "\xef\xbb\xbf", "\f"} {
		if got := sniff([]byte(body)); got == sniffJSON {
			t.Errorf("sniff(%q) = JSON", body)
		}
	}
	for _, ct := range []string{"application/grpc", "application/grpc+json", "application/grpc+proto", "application/grpc-web+json", "Application/GRPC-Web"} {
		if IsJSONContentType(ct) {
			t.Errorf("IsJSONContentType(%q) = true", ct)
		}
	}
}
