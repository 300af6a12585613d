package respfilter

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strings"
	"sync"
)

// coding is a Content-Encoding apiguard can decode and re-encode with the
// standard library.
type coding uint8

const (
	codingIdentity coding = iota
	codingGzip
	codingDeflate // RFC 9110 "deflate": a zlib stream (RFC 1950)
	// codingRawDeflate is a "deflate" body sent as a bare RFC 1951 stream,
	// a common server mistake that browsers accept; it is re-encoded the
	// same way so the client sees what it saw before.
	codingRawDeflate
)

// parseContentEncoding maps a Content-Encoding value to a coding. ok is
// false for anything else, including a list of several codings.
func parseContentEncoding(v string) (c coding, ok bool) {
	v = strings.TrimSpace(v)
	switch {
	case v == "", strings.EqualFold(v, "identity"):
		return codingIdentity, true
	case strings.EqualFold(v, "gzip"), strings.EqualFold(v, "x-gzip"):
		return codingGzip, true
	case strings.EqualFold(v, "deflate"):
		return codingDeflate, true
	}
	return 0, false
}

var (
	gzipReaders sync.Pool // *gzip.Reader
	gzipWriters = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
		return w
	}}
	zlibWriters = sync.Pool{New: func() any {
		w, _ := zlib.NewWriterLevel(io.Discard, zlib.BestSpeed)
		return w
	}}
	flateWriters = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(io.Discard, flate.BestSpeed)
		return w
	}}
)

var (
	errDecodedTooLarge = &Error{Reason: ReasonTooLarge, msg: "decoded body exceeds max_body_bytes"}
	errDecodeFailed    = &Error{Reason: ReasonDecodeFailed, msg: "body does not decode with its content-encoding"}
)

// decodeBody appends the decoded form of body to dst. It stops with
// ReasonTooLarge as soon as the output would pass limit, so a decompression
// bomb costs at most limit bytes. The returned coding is the one actually
// found (deflate may turn out to be raw deflate).
func decodeBody(dst, body []byte, c coding, limit int) ([]byte, coding, error) {
	if c == codingIdentity {
		if len(body) > limit {
			return dst, c, errDecodedTooLarge
		}
		return append(dst, body...), c, nil
	}
	var r io.Reader
	src := bytes.NewReader(body)
	switch c {
	case codingGzip:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(src)
		} else {
			err = zr.Reset(src)
		}
		if err != nil {
			return dst, c, errDecodeFailed
		}
		defer gzipReaders.Put(zr)
		r = zr
	case codingDeflate:
		zr, err := zlib.NewReader(src)
		if errors.Is(err, zlib.ErrHeader) {
			src.Reset(body)
			c = codingRawDeflate
			fr := flate.NewReader(src)
			defer fr.Close()
			r = fr
		} else if err != nil {
			return dst, c, errDecodeFailed
		} else {
			defer zr.Close()
			r = zr
		}
	default:
		return dst, c, errDecodeFailed
	}
	out, err := readLimited(dst, r, limit)
	if err != nil {
		return dst, c, err
	}
	return out, c, nil
}

// readLimited appends all of r to dst, failing once more than limit bytes
// have been read.
func readLimited(dst []byte, r io.Reader, limit int) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst[:start], errDecodedTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst[:start], errDecodeFailed
		}
	}
}

// encodeBody appends data encoded with c to dst.
func encodeBody(dst *bytes.Buffer, data []byte, c coding) error {
	var w interface {
		io.WriteCloser
		Reset(io.Writer)
	}
	var pool *sync.Pool
	switch c {
	case codingIdentity:
		dst.Write(data)
		return nil
	case codingGzip:
		pool = &gzipWriters
	case codingDeflate:
		pool = &zlibWriters
	case codingRawDeflate:
		pool = &flateWriters
	default:
		return errors.New("respfilter: encode: unknown coding")
	}
	w = pool.Get().(interface {
		io.WriteCloser
		Reset(io.Writer)
	})
	w.Reset(dst)
	defer func() {
		w.Reset(io.Discard) // drop the reference to dst
		pool.Put(w)
	}()
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.Close()
}

// Decodable reports whether apiguard decodes the Content-Encoding value v
// (none, identity, gzip, x-gzip, deflate: what the filter decodes) and
// whether v is the identity coding, for a caller that decodes a body as it
// streams (the response inventory's Observer on unfiltered routes).
func Decodable(v string) (ok, identity bool) {
	c, ok := parseContentEncoding(v)
	return ok, ok && c == codingIdentity
}

// NewDecodingReader returns a reader of src decoded with the coding the
// Content-Encoding value v names, as the filter decodes a held body:
// gzip, or deflate as zlib or, when its first two bytes are no zlib
// header, the raw DEFLATE some servers send. src is read as far as the
// decoder needs, so a caller can feed it a body as it passes; the
// decoder's window (32 KiB) is its memory. The identity coding is src.
func NewDecodingReader(v string, src *bufio.Reader) (io.Reader, error) {
	c, ok := parseContentEncoding(v)
	switch {
	case !ok:
		return nil, errUnsupportedCoding
	case c == codingIdentity:
		return src, nil
	case c == codingGzip:
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, errDecodeFailed
		}
		return zr, nil
	}
	h, err := src.Peek(2)
	if err != nil {
		return nil, errDecodeFailed
	}
	if !isZlibHeader(h[0], h[1]) {
		return flate.NewReader(src), nil
	}
	zr, err := zlib.NewReader(src)
	if err != nil {
		return nil, errDecodeFailed
	}
	return zr, nil
}

// isZlibHeader reports whether two bytes open a zlib stream: DEFLATE with
// a window of at most 32 KiB and a valid check (RFC 1950 §2.2, as
// compress/zlib reads it); decodeBody falls back to raw DEFLATE where
// compress/zlib finds none.
func isZlibHeader(cmf, flg byte) bool {
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint(cmf)<<8|uint(flg))%31 == 0
}

var errUnsupportedCoding = &Error{Reason: ReasonUnsupportedEncoding, msg: "content-encoding apiguard does not decode"}
