// Command conformance is a test guest for wasmhost: a Proxy-Wasm module
// written against the raw ABI (no SDK), built with the standard Go
// compiler. Every callback is logged at debug level as
// "cb <name> <context id>", so tests can assert Envoy's ordering, and
// every response gets x-plugin-saw-status.
//
// The plugin configuration chooses the root behaviour: "reject" fails
// configure, "tick" sets a 20 ms tick (counter ticks_total), "queue"
// registers the shared queue "jobs", "configure-writes" writes shared data,
// "setprop-root" calls set_property in the root context.
//
// Requests choose the rest with the x-do header, a comma-separated list:
//
//	panic, panic-resp          trap in request / response headers
//	gc, idle                   runtime.GC(); a 1 ms sleep (waits in poll_oneoff)
//	grow:<MiB>                 allocate and keep that much memory
//	touch:<MiB>                allocate that much memory and let it go
//	pause-req, pause-resp      PAUSE from request / response headers
//	pause-req-body             PAUSE request body until the end, then
//	  upper-req-body           ... upper-case it, or
//	  deny-body:<code>         ... reply locally
//	pause-resp-body            PAUSE response body until the end
//	resp-body-status           at the body's end: :status 299, append "[filtered]"
//	mark-resp-chunks           append "|" to every response body chunk
//	deny:<code>, deny-resp:<code>  local reply from request / response headers
//	deny-json:<code>, deny-resp-json:<code>  local reply with a body and
//	  content-type application/json, from request / response headers
//	deny-empty:<code>          local reply without a body, giving content-type and content-length
//	deny-grpc:<code>/<grpc>[/<hdr>]  local reply "denied 100% by guest\n" with grpc_status
//	  <grpc> (-1: none) and, with <hdr>, the guest's own grpc-status header
//	saw-content                x-plugin-saw-content-type / -length: what on_response_headers saw
//	callout:<cluster>|<path>|<timeout ms>  http_call, then continue the stream;
//	  callout-no-path, callout-deny, callout-read-late (read the response
//	  again after set_effective_context: x-callout-late-*)
//	cas:<key>                  CAS-increment a shared-data counter
//	enqueue:<item>             enqueue on the "jobs" queue
//	prop:<a.b.c>               x-prop (hex) and x-prop-status
//	setprop:<k>=<v>            set_property, read back into x-setprop
//	get-shared:<key>           x-shared: that shared-data value "/" status
//	splice                     buffer the response body, then try
//	  set_buffer_bytes mid-body, at 0 and at the end: "[splice ...]"
//	late[:<key>]               read and change maps after Envoy released them:
//	  x-late-req (response headers), "[late-resp ...]" (end of the body),
//	  "on_log ..." and "on_done ..." log lines (and shared data
//	  late-log-<key>, late-done-<key>), "after continue" (callouts,
//	  x-after-continue)
//	callout-write              try to change the callout's response headers
//	add-trailers               add a request and a response trailer in the
//	  last body callbacks: x-add-req-trailer, "[resp-trailer <status>]"
//	body-in-trailers           append "[trailers saw <n>/<status>]" to the
//	  buffered response body from on_response_trailers
//	send-local:<code>|<details>|<grpc>  a local reply with those arguments
//	log-details:<key>          on_log stores response.code_details "/" status
//	  as shared data details-<key>
//	echo-headers, foreign, metric-errors, drop-status, reset, time,
//	define-in-malloc
//	pathlink                   (built with -tags pathlink) call path_link and
//	  path_symlink as cpp-host declares them: x-pathlink "<errno> <errno>"
package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

func main() {}

//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion() {}

// defineInMalloc makes the allocator call a host function Envoy forbids
// during allocation, to test the restricted allow-list.
var defineInMalloc bool

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) *byte {
	if defineInMalloc {
		var id uint32
		proxyDefineMetric(0, "defined_in_malloc", &id)
	}
	if size == 0 {
		size = 1
	}
	buf := make([]byte, size)
	return &buf[0]
}

// ---- host calls ----

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg string) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key string, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mapType uint32, key string, value string) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mapType uint32, key string, value string) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mapType uint32, key string) uint32

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mapType uint32, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufType, start, max uint32, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_set_buffer_bytes
func proxySetBufferBytes(bufType, start, size uint32, data string) uint32

//go:wasmimport env proxy_continue_stream
func proxyContinueStream(streamType uint32) uint32

//go:wasmimport env proxy_close_stream
func proxyCloseStream(streamType uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(code uint32, details string, body string, headers string, grpcStatus int32) uint32

//go:wasmimport env proxy_get_shared_data
func proxyGetSharedData(key string, retPtr unsafe.Pointer, retSize *uint32, cas *uint32) uint32

//go:wasmimport env proxy_set_shared_data
func proxySetSharedData(key string, value string, cas uint32) uint32

//go:wasmimport env proxy_register_shared_queue
func proxyRegisterSharedQueue(name string, id *uint32) uint32

//go:wasmimport env proxy_resolve_shared_queue
func proxyResolveSharedQueue(vmID string, name string, id *uint32) uint32

//go:wasmimport env proxy_enqueue_shared_queue
func proxyEnqueueSharedQueue(id uint32, value string) uint32

//go:wasmimport env proxy_dequeue_shared_queue
func proxyDequeueSharedQueue(id uint32, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_http_call
func proxyHTTPCall(cluster string, headers string, body string, trailers string, timeoutMs uint32, token *uint32) uint32

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTickPeriod(ms uint32) uint32

//go:wasmimport env proxy_set_effective_context
func proxySetEffectiveContext(id uint32) uint32

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name string, id *uint32) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(id uint32, offset int64) uint32

//go:wasmimport env proxy_record_metric
func proxyRecordMetric(id uint32, value uint64) uint32

//go:wasmimport env proxy_get_metric
func proxyGetMetric(id uint32, value *uint64) uint32

//go:wasmimport env proxy_get_property
func proxyGetProperty(path string, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_set_property
func proxySetProperty(path string, value string) uint32

//go:wasmimport env proxy_call_foreign_function
func proxyCallForeignFunction(name string, args string, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_get_log_level
func proxyGetLogLevel(level *uint32) uint32

// ---- helpers ----

const (
	mapReqHeaders  = 0
	mapRespHeaders = 2
	mapCallHeaders = 6
	bufReqBody     = 0
	bufRespBody    = 1
	bufCallBody    = 4
	bufVMConfig    = 6
	bufPluginConf  = 7
)

func logf(level uint32, format string, args ...any) { proxyLog(level, fmt.Sprintf(format, args...)) }

func cb(name string, id uint32) { logf(1, "cb %s %d", name, id) }

func bytesAt(p *byte, n uint32) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice(p, n)
}

func header(mapType uint32, key string) (string, bool) {
	var p *byte
	var n uint32
	if proxyGetHeaderMapValue(mapType, key, unsafe.Pointer(&p), &n) != 0 {
		return "", false
	}
	return string(bytesAt(p, n)), true
}

// headerStatus reads one header and returns the host's status.
func headerStatus(mapType uint32, key string) (string, uint32) {
	var p *byte
	var n uint32
	st := proxyGetHeaderMapValue(mapType, key, unsafe.Pointer(&p), &n)
	return string(bytesAt(p, n)), st
}

func buffer(bufType, start, max uint32) ([]byte, uint32) {
	var p *byte
	var n uint32
	st := proxyGetBufferBytes(bufType, start, max, unsafe.Pointer(&p), &n)
	return append([]byte(nil), bytesAt(p, n)...), st
}

func pairs(mapType uint32) ([][2]string, uint32) {
	var p *byte
	var n uint32
	st := proxyGetHeaderMapPairs(mapType, unsafe.Pointer(&p), &n)
	return decodePairs(bytesAt(p, n)), st
}

func decodePairs(b []byte) [][2]string {
	if len(b) < 4 {
		return nil
	}
	n := binary.LittleEndian.Uint32(b)
	sizes := b[4:]
	data := b[4+8*n:]
	out := make([][2]string, 0, n)
	for i := uint32(0); i < n; i++ {
		kl := binary.LittleEndian.Uint32(sizes[8*i:])
		vl := binary.LittleEndian.Uint32(sizes[8*i+4:])
		k := string(data[:kl])
		data = data[kl+1:]
		v := string(data[:vl])
		data = data[vl+1:]
		out = append(out, [2]string{k, v})
	}
	return out
}

func encodePairs(kv [][2]string) string {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(kv)))
	for _, p := range kv {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[1])))
	}
	for _, p := range kv {
		b = append(append(b, p[0]...), 0)
		b = append(append(b, p[1]...), 0)
	}
	return string(b)
}

func property(path ...string) (string, uint32) {
	var p *byte
	var n uint32
	st := proxyGetProperty(strings.Join(path, "\x00"), unsafe.Pointer(&p), &n)
	return string(bytesAt(p, n)), st
}

// ---- state ----

type streamState struct {
	do            map[string]string
	root          uint32
	reqBody       int
	respBody      int
	shared        string // get-shared: the value read at request time
	addedTrailer  string // add-trailers: the status of adding a request trailer
	afterContinue string // late with a callout: the read after continue
	// respHeaders are added to the response headers: what an action of a
	// tagged file (extraActions) reports.
	respHeaders [][2]string
}

var (
	streams     = map[uint32]*streamState{}
	rootConfig  = map[uint32]string{}
	callouts    = map[uint32]uint32{} // token -> stream id
	counterID   uint32
	gaugeID     uint32
	histogramID uint32
	tickID      uint32
	queueID     uint32
	kept        [][]byte // grow: memory the guest holds on to
	// extraActions are x-do actions of files built only with a tag: they
	// import what not every host provides.
	extraActions = map[string]func(s *streamState){}
)

func (s *streamState) has(action string) bool { _, ok := s.do[action]; return ok }

// ---- lifecycle ----

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(id, root uint32) {
	cb("on_context_create", id)
	if root != 0 {
		streams[id] = &streamState{do: map[string]string{}, root: root}
	}
}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(root, size uint32) uint32 {
	cb("on_vm_start", root)
	conf, _ := buffer(bufVMConfig, 0, size)
	logf(2, "vm_start config=%q", conf)
	return 1
}

//go:wasmexport proxy_on_configure
func proxyOnConfigure(root, size uint32) uint32 {
	cb("on_configure", root)
	conf, st := buffer(bufPluginConf, 0, size)
	if st != 0 && size > 0 {
		logf(4, "cannot read plugin configuration: status %d", st)
		return 0
	}
	config := string(conf)
	rootConfig[root] = config
	logf(2, "configure config=%q", config)
	if strings.Contains(config, "reject") {
		logf(4, "invalid configuration: %s", config)
		return 0
	}
	proxyDefineMetric(0, "requests_total", &counterID)
	proxyDefineMetric(1, "last_request_size", &gaugeID)
	proxyDefineMetric(2, "request_bytes", &histogramID)
	proxyDefineMetric(0, "ticks_total", &tickID)
	if strings.Contains(config, "tick") {
		proxySetTickPeriod(20)
	}
	if strings.Contains(config, "queue") {
		if st := proxyRegisterSharedQueue("jobs", &queueID); st != 0 {
			logf(4, "register queue: %d", st)
		}
	}
	if strings.Contains(config, "configure-writes") {
		proxySetSharedData("configured-by", config, 0)
	}
	if strings.Contains(config, "setprop-root") {
		st := proxySetProperty("root_prop", "x")
		logf(2, "root set_property=%d", st)
		proxySetSharedData("root-setprop", strconv.Itoa(int(st)), 0)
	}
	return 1
}

//go:wasmexport proxy_on_tick
func proxyOnTick(root uint32) {
	proxyIncrementMetric(tickID, 1)
}

//go:wasmexport proxy_on_queue_ready
func proxyOnQueueReady(root, id uint32) {
	for {
		var p *byte
		var n uint32
		st := proxyDequeueSharedQueue(id, unsafe.Pointer(&p), &n)
		if st != 0 {
			logf(2, "queue drained status=%d", st)
			return
		}
		logf(2, "queue item %s root=%d", bytesAt(p, n), root)
	}
}

//go:wasmexport proxy_on_log
func proxyOnLog(id uint32) {
	cb("on_log", id)
	if s := streams[id]; s != nil && s.do["log-details"] != "" {
		// Envoy's stream info: the response code details of the reply.
		details, st := property("response", "code_details")
		proxySetSharedData("details-"+s.do["log-details"], fmt.Sprintf("%s/%d", details, st), 0)
	}
	if s := streams[id]; s != nil && s.has("late") {
		// Envoy Context::log: the access-log copies of the final maps.
		do, dst := headerStatus(mapReqHeaders, "x-do")
		status, sst := headerStatus(mapRespHeaders, ":status")
		_, tst := headerStatus(1, "x-trailer")
		line := fmt.Sprintf("req=%s/%d status=%s/%d req-trailers=%d", do, dst, status, sst, tst)
		logf(2, "on_log %s", line)
		if key := s.do["late"]; key != "" {
			proxySetSharedData("late-log-"+key, line, 0)
		}
	}
}

//go:wasmexport proxy_on_done
func proxyOnDone(id uint32) uint32 {
	cb("on_done", id)
	if s := streams[id]; s != nil && s.has("late") {
		_, st := headerStatus(mapReqHeaders, "x-do")
		kv, pst := pairs(mapReqHeaders)
		line := fmt.Sprintf("req=%d pairs=%d/%d", st, len(kv), pst)
		logf(2, "on_done %s", line)
		if key := s.do["late"]; key != "" {
			proxySetSharedData("late-done-"+key, line, 0)
		}
	}
	return 1
}

//go:wasmexport proxy_on_delete
func proxyOnDelete(id uint32) {
	cb("on_delete", id)
	delete(streams, id)
}

// ---- HTTP ----

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(id, n, eos uint32) uint32 {
	cb("on_request_headers", id)
	s := streams[id]
	if s == nil {
		return 0
	}
	if v, ok := header(mapReqHeaders, "x-do"); ok {
		for _, a := range strings.Split(v, ",") {
			k, arg, _ := strings.Cut(strings.TrimSpace(a), ":")
			s.do[k] = arg
		}
	}
	proxyIncrementMetric(counterID, 1)
	var level uint32
	proxyGetLogLevel(&level)
	if s.has("panic") {
		panic("guest panic on purpose")
	}
	if s.has("define-in-malloc") {
		defineInMalloc = true
		header(mapReqHeaders, ":path") // the host allocates for the value
	}
	if s.has("gc") {
		runtime.GC()
	}
	for _, action := range []string{"grow", "touch"} {
		if arg, ok := s.do[action]; ok {
			mib, _ := strconv.Atoi(arg)
			b := make([]byte, mib<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			if action == "grow" {
				kept = append(kept, b)
			}
		}
	}
	if s.has("idle") {
		// The scheduler idles until the timer fires: it waits in netpoll,
		// that is in wasi poll_oneoff, as after a GC with the scavenger's
		// timer pending. The sleep is long enough that the timer is still
		// pending when the scheduler looks, even on a loaded machine: an
		// expired timer runs without a poll, and the crash is not
		// reproduced.
		time.Sleep(50 * time.Millisecond)
	}
	if s.has("echo-headers") {
		kv, _ := pairs(mapReqHeaders)
		var names []string
		for _, p := range kv {
			names = append(names, p[0])
		}
		proxyAddHeaderMapValue(mapReqHeaders, "x-guest-saw", strings.Join(names, " "))
	}
	if arg, ok := s.do["cas"]; ok {
		casIncrement(arg)
	}
	if arg, ok := s.do["enqueue"]; ok {
		var q uint32
		if st := proxyResolveSharedQueue("conformance", "jobs", &q); st != 0 {
			logf(4, "resolve queue: %d", st)
		} else {
			proxyEnqueueSharedQueue(q, arg)
		}
	}
	if arg, ok := s.do["setprop"]; ok {
		k, v, _ := strings.Cut(arg, "=")
		proxySetProperty(k, v)
	}
	if arg, ok := s.do["get-shared"]; ok {
		var p *byte
		var n, cas uint32
		st := proxyGetSharedData(arg, unsafe.Pointer(&p), &n, &cas)
		s.shared = fmt.Sprintf("%s/%d", bytesAt(p, n), st)
	}
	if arg, ok := s.do["send-local"]; ok {
		parts := strings.Split(arg, "|")
		code, _ := strconv.ParseUint(parts[0], 10, 32)
		grpc, _ := strconv.Atoi(parts[2])
		proxySendLocalResponse(uint32(code), parts[1], "local", "", int32(grpc))
		return 0
	}
	if arg, ok := s.do["deny"]; ok {
		code, _ := strconv.Atoi(arg)
		proxySendLocalResponse(uint32(code), "guest_denied", "denied by guest",
			encodePairs([][2]string{{"x-guest-reply", "1"}}), -1)
		return 0 // ignored: the local reply stops the stream
	}
	if arg, ok := s.do["deny-grpc"]; ok {
		// HTTP/GRPC[/HDR]: a local reply with grpc_status GRPC (-1: none)
		// and, with HDR, the guest's own grpc-status header.
		parts := strings.Split(arg, "/")
		code, _ := strconv.Atoi(parts[0])
		grpc, _ := strconv.Atoi(parts[1])
		hdrs := [][2]string{{"x-guest-reply", "1"}, {"content-type", "application/json"}, {"content-length", "99"}}
		if len(parts) > 2 {
			hdrs = append(hdrs, [2]string{"grpc-status", parts[2]})
		}
		proxySendLocalResponse(uint32(code), "guest_denied", "denied 100% by guest\n",
			encodePairs(hdrs), int32(grpc))
		return 0
	}
	if arg, ok := s.do["deny-json"]; ok {
		code, _ := strconv.Atoi(arg)
		proxySendLocalResponse(uint32(code), "guest_denied", `{"error":"denied"}`,
			encodePairs([][2]string{{"Content-Type", "application/json"}}), -1)
		return 0
	}
	if arg, ok := s.do["deny-empty"]; ok {
		code, _ := strconv.Atoi(arg)
		proxySendLocalResponse(uint32(code), "guest_denied", "",
			encodePairs([][2]string{{"content-type", "application/json"}, {"content-length", "99"}, {"x-guest-reply", "1"}}), -1)
		return 0
	}
	if arg, ok := s.do["callout"]; ok {
		// callout:<cluster>:<path>:<timeout ms>
		parts := strings.Split(arg, "|")
		timeout, _ := strconv.Atoi(parts[2])
		hdrs := [][2]string{{":method", "GET"}, {":path", parts[1]}, {":authority", "backend"}}
		if s.has("callout-no-path") {
			hdrs = hdrs[:1]
		}
		var token uint32
		st := proxyHTTPCall(parts[0], encodePairs(hdrs), "", "", uint32(timeout), &token)
		proxyAddHeaderMapValue(mapReqHeaders, "x-callout-dispatch", strconv.Itoa(int(st)))
		if st != 0 {
			return 0
		}
		callouts[token] = id
		return 1
	}
	for name, f := range extraActions {
		if s.has(name) {
			f(s)
		}
	}
	if s.has("reset") {
		proxyCloseStream(0)
		return 1
	}
	if s.has("pause-req") {
		return 1
	}
	return 0
}

func casIncrement(key string) {
	for i := 0; i < 10000; i++ {
		var p *byte
		var n, cas uint32
		var cur uint64
		switch st := proxyGetSharedData(key, unsafe.Pointer(&p), &n, &cas); st {
		case 0:
			cur, _ = strconv.ParseUint(string(bytesAt(p, n)), 10, 64)
		case 1:
			cas = 0
		default:
			logf(4, "get shared data: %d", st)
			return
		}
		st := proxySetSharedData(key, strconv.FormatUint(cur+1, 10), cas)
		if st == 0 {
			return
		}
		if st != 8 {
			logf(4, "set shared data: %d", st)
			return
		}
		if cas == 0 {
			// A concurrent first write: retry with the CAS it produced.
			continue
		}
	}
	logf(4, "cas retries exhausted")
}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(id, size, eos uint32) uint32 {
	cb("on_request_body", id)
	s := streams[id]
	if s == nil {
		return 0
	}
	s.reqBody = int(size)
	logf(1, "request body size=%d eos=%d", size, eos)
	if s.has("add-trailers") && eos != 0 {
		// Envoy's getMap adds the trailers in the last body callback.
		s.addedTrailer = strconv.Itoa(int(proxyAddHeaderMapValue(1, "x-req-added", "1")))
	}
	if s.has("pause-req-body") {
		if eos == 0 {
			return 1
		}
		body, _ := buffer(bufReqBody, 0, size)
		proxyRecordMetric(gaugeID, uint64(len(body)))
		proxyRecordMetric(histogramID, uint64(len(body)))
		if s.has("upper-req-body") {
			proxySetBufferBytes(bufReqBody, 0, size, strings.ToUpper(string(body)))
		}
		if arg, ok := s.do["deny-body"]; ok {
			code, _ := strconv.Atoi(arg)
			proxySendLocalResponse(uint32(code), "guest_denied_body", "bad body", "", -1)
		}
	}
	return 0
}

//go:wasmexport proxy_on_request_trailers
func proxyOnRequestTrailers(id, n uint32) uint32 {
	cb("on_request_trailers", id)
	return 0
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(id, n, eos uint32) uint32 {
	cb("on_response_headers", id)
	s := streams[id]
	if s == nil {
		return 0
	}
	status, _ := header(mapRespHeaders, ":status")
	logf(2, "response status=%s", status)
	if s.has("late") {
		// The request headers were released when on_request_headers
		// returned Continue (Envoy Context::decodeHeaders).
		_, st := headerStatus(mapReqHeaders, ":method")
		kv, pst := pairs(mapReqHeaders)
		ast := proxyAddHeaderMapValue(mapReqHeaders, "x-late", "1")
		body, bst := buffer(bufReqBody, 0, 1024)
		bset := proxySetBufferBytes(bufReqBody, 0, 0, "x")
		proxyAddHeaderMapValue(mapRespHeaders, "x-late-req",
			fmt.Sprintf("get=%d pairs=%d/%d add=%d body=%d/%d set-body=%d", st, len(kv), pst, ast, len(body), bst, bset))
	}
	proxyAddHeaderMapValue(mapRespHeaders, "x-plugin-saw-status", status)
	if s.shared != "" {
		proxyAddHeaderMapValue(mapRespHeaders, "x-shared", s.shared)
	}
	if s.addedTrailer != "" {
		proxyAddHeaderMapValue(mapRespHeaders, "x-add-req-trailer", s.addedTrailer)
	}
	if s.afterContinue != "" {
		proxyAddHeaderMapValue(mapRespHeaders, "x-after-continue", s.afterContinue)
	}
	for _, kv := range s.respHeaders {
		proxyAddHeaderMapValue(mapRespHeaders, kv[0], kv[1])
	}
	if s.has("saw-content") {
		for _, name := range []string{"content-type", "content-length"} {
			var seen []string
			kv, _ := pairs(mapRespHeaders)
			for _, p := range kv {
				if p[0] == name {
					seen = append(seen, p[1])
				}
			}
			proxyAddHeaderMapValue(mapRespHeaders, "x-plugin-saw-"+name, strings.Join(seen, ";")+"|")
		}
	}
	if s.has("drop-status") {
		proxyRemoveHeaderMapValue(mapRespHeaders, ":status")
	}
	if s.has("panic-resp") {
		panic("guest panic in response headers")
	}
	if arg, ok := s.do["prop"]; ok {
		v, st := property(strings.Split(arg, ".")...)
		proxyAddHeaderMapValue(mapRespHeaders, "x-prop", hex.EncodeToString([]byte(v)))
		proxyAddHeaderMapValue(mapRespHeaders, "x-prop-status", strconv.Itoa(int(st)))
	}
	if arg, ok := s.do["setprop"]; ok {
		k, _, _ := strings.Cut(arg, "=")
		v, st := property(k)
		proxyAddHeaderMapValue(mapRespHeaders, "x-setprop", v+"/"+strconv.Itoa(int(st)))
	}
	if s.has("time") {
		start := time.Now()
		time.Sleep(2 * time.Millisecond)
		proxyAddHeaderMapValue(mapRespHeaders, "x-wall", start.UTC().Format(time.RFC3339))
		proxyAddHeaderMapValue(mapRespHeaders, "x-slept-ms", strconv.Itoa(int(time.Since(start).Milliseconds())))
	}
	if s.has("foreign") {
		var p *byte
		var n uint32
		st := proxyCallForeignFunction("no_such_function", "", unsafe.Pointer(&p), &n)
		proxyAddHeaderMapValue(mapRespHeaders, "x-foreign", strconv.Itoa(int(st)))
	}
	if s.has("metric-errors") {
		var v uint64
		proxyAddHeaderMapValue(mapRespHeaders, "x-metric",
			fmt.Sprintf("incr0=%d get-hist=%d get-counter=%d", proxyIncrementMetric(counterID, 0),
				proxyGetMetric(histogramID, &v), proxyGetMetric(counterID, &v)))
	}
	if arg, ok := s.do["deny-resp-json"]; ok {
		code, _ := strconv.Atoi(arg)
		proxySendLocalResponse(uint32(code), "guest_denied_response", `{"error":"denied"}`,
			encodePairs([][2]string{{"content-type", "application/json"}}), -1)
		return 0
	}
	if arg, ok := s.do["deny-resp"]; ok {
		code, _ := strconv.Atoi(arg)
		proxySendLocalResponse(uint32(code), "guest_denied_response", "denied in response", "", -1)
		return 0
	}
	if s.has("pause-resp") {
		return 1
	}
	return 0
}

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(id, size, eos uint32) uint32 {
	cb("on_response_body", id)
	s := streams[id]
	if s == nil {
		return 0
	}
	logf(1, "response body size=%d eos=%d", size, eos)
	if s.has("late") && eos != 0 {
		// The response headers were released when on_response_headers
		// returned Continue (Envoy Context::encodeHeaders).
		_, st := headerStatus(mapRespHeaders, ":status")
		rst := proxyReplaceHeaderMapValue(mapRespHeaders, "x-late", "1")
		proxySetBufferBytes(bufRespBody, size, 0, fmt.Sprintf("[late-resp get=%d replace=%d]", st, rst))
	}
	if s.has("mark-resp-chunks") {
		proxySetBufferBytes(bufRespBody, size, 0, "|")
	}
	if s.has("add-trailers") && eos != 0 {
		st := proxyAddHeaderMapValue(3, "x-resp-added", "1")
		proxySetBufferBytes(bufRespBody, size, 0, fmt.Sprintf("[resp-trailer %d]", st))
	}
	if s.has("splice") {
		// Envoy Buffer::copyFrom: only at 0 (drain, then prepend) or at or
		// past the end (append).
		if eos == 0 {
			return 1
		}
		mid := proxySetBufferBytes(bufRespBody, 1, 2, "X")
		front := proxySetBufferBytes(bufRespBody, 0, 2, "J")
		body, _ := buffer(bufRespBody, 0, 1<<20)
		end := proxySetBufferBytes(bufRespBody, uint32(len(body)), 0, "!")
		proxySetBufferBytes(bufRespBody, uint32(len(body))+1, 0, fmt.Sprintf("[splice %d %d %d]", mid, front, end))
		return 0
	}
	if s.has("pause-resp-body") || s.has("resp-body-status") {
		if eos == 0 {
			return 1
		}
		body, _ := buffer(bufRespBody, 0, size)
		if s.has("resp-body-status") {
			proxyReplaceHeaderMapValue(mapRespHeaders, ":status", "299")
			proxyReplaceHeaderMapValue(mapRespHeaders, "content-length", strconv.Itoa(len(body)+len("[filtered]")))
			proxySetBufferBytes(bufRespBody, size, 0, "[filtered]")
		}
	}
	return 0
}

//go:wasmexport proxy_on_response_trailers
func proxyOnResponseTrailers(id, n uint32) uint32 {
	cb("on_response_trailers", id)
	if s := streams[id]; s != nil && s.has("body-in-trailers") {
		body, st := buffer(bufRespBody, 0, 1<<20)
		proxySetBufferBytes(bufRespBody, uint32(len(body)), 0, fmt.Sprintf("[trailers saw %d/%d]", len(body), st))
	}
	return 0
}

//go:wasmexport proxy_on_http_call_response
func proxyOnHTTPCallResponse(root, token, nHeaders, bodySize, nTrailers uint32) {
	cb("on_http_call_response", root)
	id, ok := callouts[token]
	if !ok {
		logf(4, "unknown callout token %d", token)
		return
	}
	delete(callouts, token)
	status, ok := header(mapCallHeaders, ":status")
	if !ok {
		status = "none"
	}
	body, _ := buffer(bufCallBody, 0, bodySize)
	if len(body) > 1024 {
		// A header or a log line cannot carry a large body: its size stands for it.
		body = []byte(fmt.Sprintf("%d bytes", len(body)))
	}
	logf(2, "callout response root=%d headers=%d status=%s body=%q", root, nHeaders, status, body)
	if proxySetEffectiveContext(id) != 0 {
		logf(4, "stream %d is gone", id)
		return
	}
	proxyAddHeaderMapValue(mapReqHeaders, "x-callout-status", status)
	proxyAddHeaderMapValue(mapReqHeaders, "x-callout-body", string(body))
	if s := streams[id]; s != nil && s.has("callout-write") {
		// Callout response maps are read-only (Envoy Context::getMap has
		// no case for them).
		proxyAddHeaderMapValue(mapReqHeaders, "x-callout-write", fmt.Sprintf("add=%d replace=%d remove=%d",
			proxyAddHeaderMapValue(mapCallHeaders, "x-a", "1"), proxyReplaceHeaderMapValue(mapCallHeaders, ":status", "200"),
			proxyRemoveHeaderMapValue(mapCallHeaders, ":status")))
	}
	if s := streams[id]; s != nil && s.has("callout-read-late") {
		// As the Go SDK does: the stream is the effective context while the
		// callback reads the response.
		late, ok := header(mapCallHeaders, ":status")
		if !ok {
			late = "none"
		}
		lateBody, st := buffer(bufCallBody, 0, bodySize)
		kv, pst := pairs(mapCallHeaders)
		proxyAddHeaderMapValue(mapReqHeaders, "x-callout-late-status", late)
		proxyAddHeaderMapValue(mapReqHeaders, "x-callout-late-body", fmt.Sprintf("%s/%d", lateBody, st))
		proxyAddHeaderMapValue(mapReqHeaders, "x-callout-late-pairs", fmt.Sprintf("%d/%d", len(kv), pst))
	}
	if s := streams[id]; s != nil && s.has("callout-deny") {
		proxySendLocalResponse(403, "callout_denied", "callout said no", "", -1)
		return
	}
	proxyContinueStream(0)
	if s := streams[id]; s != nil && s.has("late") {
		// Envoy Context::continueStream releases the request maps at once.
		_, st := headerStatus(mapReqHeaders, ":path")
		logf(2, "after continue req=%d", st)
		s.afterContinue = strconv.Itoa(int(st))
	}
}
