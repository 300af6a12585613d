package respfilter

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"testing"
)

// TestDecodingReaderMatchesDecodeBody: a body decoded as it streams
// (NewDecodingReader, read through a reader that hands out a few bytes at
// a time) is what the filter's decodeBody makes of it whole, or fails
// where decodeBody does: gzip, zlib deflate, raw deflate, corrupt and
// truncated bodies.
func TestDecodingReaderMatchesDecodeBody(t *testing.T) {
	doc := bytes.Repeat([]byte(`{"card":"4111111111111111","n":12345},`), 500)
	enc := func(w io.WriteCloser, b *bytes.Buffer) []byte { w.Write(doc); w.Close(); return b.Bytes() }
	var gz, zl, raw bytes.Buffer
	gzipped := enc(gzip.NewWriter(&gz), &gz)
	zlibbed := enc(zlib.NewWriter(&zl), &zl)
	fw, _ := flate.NewWriter(&raw, flate.BestSpeed)
	rawed := enc(fw, &raw)
	corrupt := bytes.Clone(gzipped)
	corrupt[len(corrupt)/2] ^= 0xff
	for _, c := range []struct {
		name, coding string
		body         []byte
	}{
		{"gzip", "gzip", gzipped}, {"x-gzip", "x-gzip", gzipped}, {"zlib", "deflate", zlibbed}, {"raw deflate", "deflate", rawed},
		{"corrupt gzip", "gzip", corrupt}, {"truncated gzip", "gzip", gzipped[:len(gzipped)/2]}, {"truncated zlib", "deflate", zlibbed[:len(zlibbed)-3]},
		{"one byte", "deflate", []byte{0x78}}, {"not gzip", "gzip", doc}, {"identity", "identity", doc},
	} {
		cd, _ := parseContentEncoding(c.coding)
		want, _, wantErr := decodeBody(nil, c.body, cd, 1<<30)
		r, err := NewDecodingReader(c.coding, bufio.NewReaderSize(&trickle{b: c.body}, 16))
		var got []byte
		if err == nil {
			got, err = io.ReadAll(r)
		}
		if (err != nil) != (wantErr != nil) || err == nil && !bytes.Equal(got, want) {
			t.Errorf("%s: streamed %d bytes, %v; decodeBody %d bytes, %v", c.name, len(got), err, len(want), wantErr)
		}
	}
	if _, err := NewDecodingReader("br", bufio.NewReader(bytes.NewReader(nil))); err == nil {
		t.Error("br: decoded")
	}
}

// trickle hands out its bytes three at a time.
type trickle struct{ b []byte }

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 3)], t.b)
	t.b = t.b[n:]
	return n, nil
}
