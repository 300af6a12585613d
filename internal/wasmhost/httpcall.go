package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// HTTP callouts. Mirrors Envoy context.cc Context::httpCall and
// onHttpCallSuccess / onHttpCallFailure: the upstream is a cluster name; an
// unknown cluster or a missing :method, :path or :authority is BAD_ARGUMENT;
// the call belongs to the root context, whose id the response callback
// gets. Failures before the response headers arrive as Envoy's router
// makes them for the async client (source/common/router/router.cc
// onUpstreamReset / onResponseTimeout, source/common/http/
// async_client_impl.cc): a 503 for a refused connection or a reset, a 504
// for a timeout, each with a short text body (envoyproxy/envoy#15311,
// #27311). Only a failure once the headers arrived (a reset or a timeout
// mid-body) or a body over kBufferLimitForResponse calls back with 0
// headers (AsyncRequestSharedImpl::onReset, onFailure).

const fnHTTPCall = "proxy_http_call"

// Envoy router local-reply bodies.
const (
	bodyConnectFailure = "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused"
	bodyTimeout        = "upstream request timeout"
)

// maxCalloutBody bounds a callout response body: Envoy's async client
// kBufferLimitForResponse (source/common/http/async_client_impl.h), 32 MiB.
const maxCalloutBody = 32 << 20

type calloutResult struct {
	headers  headerMap
	trailers headerMap
	body     []byte
}

func httpCallFunctions() []hostFunc {
	return []hostFunc{
		{name: fnHTTPCall, params: i32s(10), results: resultI32, fn: hostHTTPCall,
			doc: "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_http_call"},
	}
}

// hostHTTPCall implements proxy_http_call(upstream, headers, body, trailers,
// timeout_ms, token_out).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_http_call
func hostHTTPCall(v *vm, s []uint64) {
	cluster, ok1 := v.readString(uint32(s[0]), uint32(s[1]))
	hdrBytes, ok2 := v.read(uint32(s[2]), uint32(s[3]))
	body, ok3 := v.read(uint32(s[4]), uint32(s[5]))
	trBytes, ok4 := v.read(uint32(s[6]), uint32(s[7]))
	timeout := time.Duration(uint32(s[8])) * time.Millisecond
	tokenPtr := uint32(s[9])
	if !ok1 || !ok2 || !ok3 || !ok4 || !v.writeU32(tokenPtr, 0) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	headers, okH := decodePairs(hdrBytes)
	trailers, okT := decodePairs(trBytes)
	base, known := v.p.cfg.Clusters[cluster]
	if !okH || !okT || !known {
		s[0] = uint64(statusBadArgument)
		return
	}
	var method, path, authority string
	for _, h := range headers {
		switch strings.ToLower(h.k) {
		case ":method":
			method = h.v
		case ":path":
			path = h.v
		case ":authority":
			authority = h.v
		}
	}
	if method == "" || path == "" || authority == "" {
		s[0] = uint64(statusBadArgument)
		return
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(base, "/")+path, bytes.NewReader(append([]byte(nil), body...)))
	if err != nil {
		s[0] = uint64(statusBadArgument)
		return
	}
	req.Host = authority
	for _, h := range headers {
		if !strings.HasPrefix(h.k, ":") {
			req.Header.Add(h.k, h.v)
		}
	}
	if len(trailers) > 0 {
		req.Trailer = http.Header{}
		for _, t := range trailers {
			req.Trailer.Add(t.k, t.v)
		}
	}
	root := v.contexts[v.context().rootID]
	v.nextCallout++
	if v.nextCallout == 0 {
		v.nextCallout = 1
	}
	token := v.nextCallout
	ctx, cancel := context.WithCancel(context.Background())
	if timeout > 0 {
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), timeout)
	}
	v.callouts[token] = cancel
	go v.runCallout(ctx, cancel, req.WithContext(ctx), root.id, token)
	v.writeU32(tokenPtr, token)
	s[0] = uint64(statusOK)
}

// runCallout performs the request off the VM lock, then delivers
// proxy_on_http_call_response(root_id, token, headers, body_size, trailers)
// on the VM that made the call.
func (v *vm) runCallout(ctx context.Context, cancel context.CancelFunc, req *http.Request, rootID, token uint32) {
	defer cancel()
	res := &calloutResult{}
	resp, err := v.p.client.Do(req)
	afterHeaders := err == nil
	if err == nil {
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, maxCalloutBody+1))
		resp.Body.Close()
		if err == nil && len(res.body) > maxCalloutBody {
			err = errors.New("callout response body over the buffer limit")
		}
	}
	switch {
	case err != nil && errors.Is(ctx.Err(), context.Canceled):
		return // VM closed or failed: no callback
	case err != nil && afterHeaders:
		// A reset or timeout once the headers arrived, or a body over the
		// limit: onFailure, 0 headers, no body.
		res = &calloutResult{}
	case err == nil:
		res.headers.add(":status", itoa(int64(resp.StatusCode)))
		for k, vs := range resp.Header {
			for _, val := range vs {
				res.headers.add(strings.ToLower(k), val)
			}
		}
		for k, vs := range resp.Trailer {
			for _, val := range vs {
				res.trailers.add(strings.ToLower(k), val)
			}
		}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.setLocalReply(504, bodyTimeout)
	case errors.Is(err, syscall.ECONNREFUSED) || isDialError(err):
		res.setLocalReply(503, bodyConnectFailure)
	default:
		// A reset before the headers: the router's local reply.
		res.setLocalReply(503, bodyUpstreamReset)
	}
	res.headers.present, res.trailers.present = true, true
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.callouts, token)
	root := v.contexts[rootID]
	if root == nil || v.closed || v.isFailed() {
		return
	}
	root.callResp = res
	v.stack[0], v.stack[1], v.stack[2] = uint64(rootID), uint64(token), uint64(len(res.headers.kv))
	v.stack[3], v.stack[4] = uint64(len(res.body)), uint64(len(res.trailers.kv))
	_, _ = v.callback(root, v.fn.httpCallResponse, 0)
	root.callResp = nil
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// setLocalReply fills the response Envoy's router makes for a failed upstream.
func (r *calloutResult) setLocalReply(code int, body string) {
	r.headers.add(":status", itoa(int64(code)))
	r.headers.add("content-length", itoa(int64(len(body))))
	r.headers.add("content-type", "text/plain")
	r.body = []byte(body)
}
