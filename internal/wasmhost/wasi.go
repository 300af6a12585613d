package wasmhost

import (
	"crypto/rand"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// Strict WASI: exactly the functions cpp-host provides
// (include/proxy-wasm/exports.h FOR_ALL_WASI_FUNCTIONS), with the return
// codes of src/exports.cc, under both wasi_snapshot_preview1 and
// wasi_unstable. Spec: https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md

// WASI errno values.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
	errnoNoent   = 44
	errnoNosys   = 52
	errnoNotsup  = 58
	errnoNotdir  = 54
)

// randomGetMax mirrors PROXY_WASM_HOST_WASI_RANDOM_GET_MAX_SIZE_BYTES.
const randomGetMax = 64 * 1024

// stderrKeep bounds the head and the tail of stderr kept for trap
// messages: a Go crash prints its reason first and a long goroutine dump after.
const stderrKeep = 2048

// keepStderr records guest stderr: the first stderrKeep bytes and the last
// stderrKeep bytes.
func (v *vm) keepStderr(b []byte) {
	if n := stderrKeep - len(v.stderrHead); n > 0 {
		take := min(n, len(b))
		v.stderrHead = append(v.stderrHead, b[:take]...)
		b = b[take:]
	}
	if len(b) == 0 {
		return
	}
	v.stderr = append(v.stderr, b...)
	if len(v.stderr) > stderrKeep {
		v.stderr = append(v.stderr[:0], v.stderr[len(v.stderr)-stderrKeep:]...)
	}
}

var (
	i64 = api.ValueTypeI64
	i32 = api.ValueTypeI32
)

func sig(params ...api.ValueType) []api.ValueType { return params }

func (m *Module) wasiFunctions() []hostFunc {
	w := func(name string, params []api.ValueType, fn func(v *vm, stack []uint64)) hostFunc {
		return hostFunc{wasi: true, name: name, params: params, results: resultI32, fn: fn,
			doc: "https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#" + name}
	}
	errno := func(code uint64) func(*vm, []uint64) { return func(_ *vm, s []uint64) { s[0] = code } }
	stdioOK := func(_ *vm, s []uint64) { // fd_advise, fd_sync, ...: no-ops on stdio only
		if s[0] <= 2 {
			s[0] = errnoSuccess
		} else {
			s[0] = errnoBadf
		}
	}
	pollOneoff := wasiPollOneoff
	if m.envoy().PollOneoffENOSYS {
		pollOneoff = func(v *vm, s []uint64) { // cpp-host before #533
			v.countPoll(uint32(s[0]), uint32(s[2]))
			s[0] = errnoNosys
		}
	}
	return []hostFunc{
		w("fd_write", i32s(4), wasiFdWrite),
		w("fd_read", i32s(4), errno(errnoNosys)),
		w("fd_seek", sig(i32, i64, i32, i32), errno(errnoSuccess)),
		w("fd_close", i32s(1), errno(errnoSuccess)),
		w("fd_fdstat_get", i32s(2), wasiFdFdstatGet),
		w("fd_fdstat_set_flags", i32s(2), errno(errnoNosys)),
		w("fd_fdstat_set_rights", sig(i32, i64, i64), stdioOK),
		w("environ_get", i32s(2), wasiEnvironGet),
		w("environ_sizes_get", i32s(2), wasiEnvironSizesGet),
		w("args_get", i32s(2), errno(errnoSuccess)),
		w("args_sizes_get", i32s(2), wasiArgsSizesGet),
		w("clock_time_get", sig(i32, i64, i32), wasiClockTimeGet),
		w("clock_res_get", i32s(2), wasiClockResGet),
		w("fd_advise", sig(i32, i64, i64, i32), stdioOK),
		w("fd_allocate", sig(i32, i64, i64), stdioOK),
		w("fd_datasync", i32s(1), stdioOK),
		w("fd_filestat_set_size", sig(i32, i64), stdioOK),
		w("fd_filestat_set_times", sig(i32, i64, i64, i32), stdioOK),
		w("fd_pread", sig(i32, i32, i32, i64, i32), errno(errnoNosys)),
		w("fd_pwrite", sig(i32, i32, i32, i64, i32), wasiFdPwrite),
		w("fd_readdir", sig(i32, i32, i32, i64, i32), errno(errnoNotdir)),
		w("fd_renumber", i32s(2), errno(errnoNotsup)),
		w("fd_sync", i32s(1), stdioOK),
		w("fd_tell", i32s(2), wasiFdTell),
		w("path_create_directory", i32s(3), errno(errnoNotsup)),
		w("path_filestat_set_times", sig(i32, i32, i32, i32, i64, i64, i32), errno(errnoNotsup)),
		// cpp-host declares path_link with 6 parameters and path_symlink
		// with 4 (src/exports.cc), not WASI's 7 and 5: a
		// module importing WASI's signatures does not link in Envoy.
		w("path_link", i32s(6), errno(errnoNotsup)),
		w("path_readlink", i32s(6), errno(errnoNotsup)),
		w("path_remove_directory", i32s(3), errno(errnoNotsup)),
		w("path_rename", i32s(6), errno(errnoNotsup)),
		w("path_symlink", i32s(4), errno(errnoNotsup)),
		w("path_unlink_file", i32s(3), errno(errnoNotsup)),
		w("sock_accept", i32s(3), errno(errnoNotsup)),
		w("sock_recv", i32s(6), errno(errnoNotsup)),
		w("sock_send", i32s(5), errno(errnoNotsup)),
		w("sock_shutdown", i32s(2), errno(errnoNotsup)),
		w("random_get", i32s(2), wasiRandomGet),
		w("sched_yield", nil, errno(errnoSuccess)),
		w("poll_oneoff", i32s(4), pollOneoff),
		{wasi: true, name: "proc_exit", params: i32s(1), results: noResult, fn: wasiProcExit,
			doc: "https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#proc_exit"},
		w("path_open", sig(i32, i32, i32, i32, i32, i64, i64, i32, i32), errno(errnoNoent)),
		w("fd_prestat_get", i32s(2), errno(errnoBadf)),
		w("fd_prestat_dir_name", i32s(3), errno(errnoNosys)),
		w("path_filestat_get", i32s(5), errno(errnoNotsup)),
		w("fd_filestat_get", i32s(2), errno(errnoBadf)),
	}
}

// wasiFdWrite sends stdout to the info log and stderr to the error log,
// dropping one trailing newline, as cpp-host writevImpl does.
func wasiFdWrite(v *vm, s []uint64) {
	n, errno := v.writev(uint32(s[0]), uint32(s[1]), uint32(s[2]))
	if errno == errnoSuccess && !v.writeU32(uint32(s[3]), n) {
		errno = errnoFault
	}
	s[0] = uint64(errno)
}

// wasiFdPwrite mirrors fd_pwrite: stdout/stderr only, offset ignored.
func wasiFdPwrite(v *vm, s []uint64) {
	n, errno := v.writev(uint32(s[0]), uint32(s[1]), uint32(s[2]))
	if errno == errnoSuccess && !v.writeU32(uint32(s[4]), n) {
		errno = errnoFault
	}
	s[0] = uint64(errno)
}

func (v *vm) writev(fd, iovs, iovsLen uint32) (uint32, uint32) {
	var level LogLevel
	switch fd {
	case 1:
		level = LogInfo
	case 2:
		level = LogError
	default:
		return 0, errnoBadf
	}
	var msg []byte
	for i := uint32(0); i < iovsLen; i++ {
		iov, ok := v.read(iovs+i*8, 8)
		if !ok {
			return 0, errnoFault
		}
		ptr := uint32(iov[0]) | uint32(iov[1])<<8 | uint32(iov[2])<<16 | uint32(iov[3])<<24
		n := uint32(iov[4]) | uint32(iov[5])<<8 | uint32(iov[6])<<16 | uint32(iov[7])<<24
		if n == 0 {
			continue
		}
		b, ok := v.read(ptr, n)
		if !ok {
			return 0, errnoFault
		}
		msg = append(msg, b...)
	}
	written := uint32(len(msg))
	if fd == 2 {
		v.keepStderr(msg)
	}
	if written > 0 {
		if msg[len(msg)-1] == '\n' {
			msg = msg[:len(msg)-1]
		}
		v.p.logs.add(v, level, string(msg))
	}
	return written, errnoSuccess
}

// wasiFdFdstatGet reports stdout/stderr as writable character streams.
func wasiFdFdstatGet(v *vm, s []uint64) {
	fd, out := uint32(s[0]), uint32(s[1])
	if fd != 1 && fd != 2 {
		s[0] = errnoBadf
		return
	}
	buf, ok := v.read(out, 24)
	if !ok {
		s[0] = errnoFault
		return
	}
	clear(buf)
	buf[8] = 64 // fs_rights_base = __WASI_RIGHTS_FD_WRITE
	s[0] = errnoSuccess
}

func wasiFdTell(v *vm, s []uint64) {
	if fd := uint32(s[0]); fd != 1 && fd != 2 {
		s[0] = errnoBadf
		return
	}
	if !v.writeU64(uint32(s[1]), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

func wasiEnvironSizesGet(v *vm, s []uint64) {
	size := 0
	for _, e := range v.m.envs {
		size += len(e) + 1
	}
	if !v.writeU32(uint32(s[0]), uint32(len(v.m.envs))) || !v.writeU32(uint32(s[1]), uint32(size)) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

func wasiEnvironGet(v *vm, s []uint64) {
	arr, buf := uint32(s[0]), uint32(s[1])
	for _, e := range v.m.envs {
		if !v.writeU32(arr, buf) {
			s[0] = errnoFault
			return
		}
		dst, ok := v.read(buf, uint32(len(e)+1))
		if !ok {
			s[0] = errnoFault
			return
		}
		copy(dst, e)
		dst[len(e)] = 0
		arr += 4
		buf += uint32(len(e) + 1)
	}
	s[0] = errnoSuccess
}

func wasiArgsSizesGet(v *vm, s []uint64) {
	if !v.writeU32(uint32(s[0]), 0) || !v.writeU32(uint32(s[1]), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

// wasiClockTimeGet serves realtime from PluginConfig.WallClock (swappable
// for tests) and monotonic from the real monotonic clock.
func wasiClockTimeGet(v *vm, s []uint64) {
	var t uint64
	switch uint32(s[0]) {
	case 0:
		t = uint64(v.p.cfg.WallClock().UnixNano())
	case 1:
		t = uint64(time.Since(v.p.monoBase)) + 1
	default:
		s[0] = errnoNotsup
		return
	}
	if !v.writeU64(uint32(s[2]), t) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

func wasiClockResGet(v *vm, s []uint64) {
	if id := uint32(s[0]); id != 0 && id != 1 {
		s[0] = errnoNotsup
		return
	}
	if !v.writeU64(uint32(s[1]), 1) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

func wasiRandomGet(v *vm, s []uint64) {
	ptr, n := uint32(s[0]), uint32(s[1])
	if n > randomGetMax {
		s[0] = errnoInval
		return
	}
	if n == 0 {
		s[0] = errnoSuccess
		return
	}
	buf, ok := v.read(ptr, n)
	if !ok {
		s[0] = errnoFault
		return
	}
	if _, err := rand.Read(buf); err != nil {
		s[0] = errnoInval
		return
	}
	s[0] = errnoSuccess
}

// wasiPollOneoff mirrors cpp-host after #533: no polling, nevents = 0,
// success. Go's runtime treats any error as fatal.
func wasiPollOneoff(v *vm, s []uint64) {
	v.countPoll(uint32(s[0]), uint32(s[2]))
	if !v.writeU32(uint32(s[3]), 0) {
		s[0] = errnoFault
		return
	}
	s[0] = errnoSuccess
}

// wasiProcExit ends the VM: a Go guest calls it after printing a panic or
// "fatal error". cpp-host only logs it and the guest then traps on the
// unreachable instruction that follows; here it traps directly.
func wasiProcExit(v *vm, s []uint64) {
	v.trap("proc_exit(" + itoa(int64(uint32(s[0]))) + ")")
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
