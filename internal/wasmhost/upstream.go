package wasmhost

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// The upstream side of a stream. Mirrors what Envoy's router hands the
// filter chain from an HTTP/1.1 upstream (source/common/http/http1/
// codec_impl.cc ClientConnectionImpl): the response headers as soon as they
// arrive, each body piece as it arrives with end_of_stream false, then
// either the trailers or an empty body chunk with end_of_stream true
// (onMessageComplete). A response that cannot have a body (HEAD, 204, 304,
// content-length 0) has its headers delivered with end_of_stream true.
// Informational (1xx) responses never reach the plugin: Envoy's
// Context::encode1xxHeaders returns Continue without calling the VM.
//
// The upstream handler runs on the stream's goroutine and its writes drive
// the response callbacks, as a worker thread runs the filter chain when the
// upstream's bytes arrive. A write blocks while the filter holds the
// response past BufferLimit (StopAllIterationAndWatermark: Envoy's
// watermark stops reading the upstream), and fails once the stream is over.

// errStreamGone is what an upstream write returns once the downstream
// stream is over (answered, reset, or failed).
var errStreamGone = errors.New("wasmhost: downstream stream is gone")

// upstreamWriteBuffer is net/http's response write buffer (bufio, 4 KiB).
const upstreamWriteBuffer = 4 << 10

// upstreamWriter is the http.ResponseWriter the upstream handler writes to.
// Like net/http's, it buffers writes (upstreamWriteBuffer bytes) and sends
// them on Flush, when the buffer fills, or when the handler returns; a body
// that fits gets a Content-Length, as net/http gives it.
type upstreamWriter struct {
	s           *stream
	header      http.Header
	code        int
	head        bool  // a HEAD request: the response has no body
	declared    int64 // content-length of the headers sent, or -1
	written     int64
	buf         []byte
	sentHeaders bool
	gone        bool // the stream is over: writes fail
	last        bool // the handler returned
}

var _ http.Flusher = (*upstreamWriter)(nil)

func (w *upstreamWriter) Header() http.Header { return w.header }

func (w *upstreamWriter) WriteHeader(code int) {
	if w.sentHeaders || w.code != 0 {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational: Envoy Context::encode1xxHeaders never calls the
		// plugin, and the final status is still to come.
		return
	}
	w.code = code
}

// bodyless reports a response Envoy's HTTP/1 codec knows has no body
// (ClientConnectionImpl::cannotHaveBody).
func (w *upstreamWriter) bodyless() bool {
	code := w.code
	if code == 0 {
		code = http.StatusOK
	}
	return w.head || code == http.StatusNoContent || code == http.StatusNotModified ||
		w.header.Get("Content-Length") == "0"
}

func (w *upstreamWriter) Write(b []byte) (int, error) {
	if w.gone {
		return 0, errStreamGone
	}
	if w.bodyless() {
		return len(b), nil // net/http drops them too
	}
	w.buf = append(w.buf, b...)
	if len(w.buf) >= upstreamWriteBuffer && !w.flushOut(false) {
		return 0, errStreamGone
	}
	return len(b), nil
}

// Flush sends the headers and what is buffered: a streaming upstream
// reaches the plugin before its body is complete. httputil.ReverseProxy
// flushes from a timer goroutine, where the stream's reset (a panic that
// net/http recovers only in the handler's goroutine) would kill the process:
// Flush stops it, the stream is over for the handler's writes, and the
// handler's goroutine carries out the reset once the handler returns.
func (w *upstreamWriter) Flush() {
	if w.gone {
		return
	}
	defer func() {
		if rec := recover(); rec != nil {
			if rec != http.ErrAbortHandler || !w.s.gotReset {
				panic(rec)
			}
			w.gone = true
		}
	}()
	w.flushOut(false)
}

// flushOut delivers the headers once (end: nothing follows them), then the
// buffered body. false means the stream is over.
func (w *upstreamWriter) flushOut(end bool) bool {
	s := w.s
	e := &s.enc
	if !w.sentHeaders {
		w.sentHeaders = true
		if w.code == 0 {
			w.code = http.StatusOK
		}
		if cl := w.header.Get("Content-Length"); cl != "" {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
				w.declared = n
			}
		}
		h := responseHeaders(w.header)
		s.locked(func() {
			s.respHeaders.present = true
			s.respHeaders.add(":status", statusText(w.code))
			s.arena = s.respHeaders.fillFromHTTP(h, s.arena)
			s.respSrc = h
		})
		*e = encoder{s: s}
		if !e.headers(end || w.bodyless()) {
			w.gone = true
			return false
		}
	}
	if len(w.buf) == 0 || w.bodyless() {
		return true
	}
	data := w.buf
	w.written += int64(len(data))
	e.flush = !w.last
	ok := e.data(data)
	w.buf = data[:0]
	if !ok {
		w.gone = true
	}
	return ok
}

// returned finishes the response once the handler returned.
func (w *upstreamWriter) returned() {
	trailers := extractTrailers(w.header)
	if w.bodyless() {
		// Its headers go (or went) with end of stream.
		if !w.sentHeaders {
			w.flushOut(true)
		}
		return
	}
	if !w.sentHeaders && w.header.Get("Content-Length") == "" && len(trailers) == 0 {
		// As net/http does for a body that fits its buffer.
		w.header.Set("Content-Length", strconv.Itoa(len(w.buf)))
	}
	w.last = true
	headersOnly := !w.sentHeaders && len(w.buf) == 0 && len(trailers) == 0
	if !w.flushOut(headersOnly) || headersOnly {
		return
	}
	if w.declared >= 0 && w.written < w.declared {
		// The upstream stopped before the body it announced: the
		// connection closes mid-body, which Envoy sees as a reset.
		w.reset()
		return
	}
	w.s.enc.end(trailers)
}

// reset is an upstream reset: before the headers, Envoy's router answers
// 503 through the filter chain; after them it resets the downstream stream.
func (w *upstreamWriter) reset() {
	w.gone = true
	if !w.sentHeaders {
		w.s.localViaFilterChain(&localReply{code: http.StatusServiceUnavailable,
			body: []byte(bodyUpstreamReset), details: detailsUpstreamReset})
		return
	}
	w.s.resetStream()
}

// responseHeaders is the handler's header map without its trailer
// declarations, copied only when it has any.
func responseHeaders(h http.Header) http.Header {
	copied := false
	for k := range h {
		if k == "Trailer" || strings.HasPrefix(k, http.TrailerPrefix) {
			if !copied {
				h, copied = h.Clone(), true
			}
			delete(h, k)
		}
	}
	return h
}

// extractTrailers takes the trailers out of a handler's header map: those
// set with http.TrailerPrefix and those declared in "Trailer".
func extractTrailers(h http.Header) http.Header {
	var t http.Header
	for k, vs := range h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = http.Header{}
			}
			t[http.CanonicalHeaderKey(name)] = vs
			delete(h, k)
		}
	}
	for _, declared := range h["Trailer"] {
		for _, name := range strings.Split(declared, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			if vs, ok := h[name]; ok {
				if t == nil {
					t = http.Header{}
				}
				t[name] = vs
				delete(h, name)
			}
		}
	}
	delete(h, "Trailer")
	return t
}
