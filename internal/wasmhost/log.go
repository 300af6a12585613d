package wasmhost

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Logging: proxy_log and proxy_get_log_level. Mirrors cpp-host
// src/exports.cc log / get_log_level and Envoy context.cc Context::log.

const (
	fnLog         = "proxy_log"
	fnGetLogLevel = "proxy_get_log_level"
)

// LogEntry is one captured guest log line.
type LogEntry struct {
	Time    time.Time
	Level   LogLevel
	Worker  int // worker VM index; -1 for the canary or a reloading VM
	Message string
}

func (e LogEntry) String() string {
	return fmt.Sprintf("[wasm %s] worker=%d %s", e.Level, e.Worker, e.Message)
}

// maxLogEntries bounds the capture so a long run cannot grow without limit.
const maxLogEntries = 20000

type logStore struct {
	mu      sync.Mutex
	entries []LogEntry
	seqs    []uint64 // sequence number of each entry
	seq     uint64
	trapLog []string
}

// nextSeq is the sequence number the next log line will get.
func (s *logStore) nextSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

func (s *logStore) add(v *vm, level LogLevel, msg string) {
	if level < v.m.opts.LogLevel {
		return
	}
	e := LogEntry{Time: time.Now(), Level: level, Worker: v.idx, Message: msg}
	s.mu.Lock()
	if len(s.entries) >= maxLogEntries {
		n := copy(s.entries, s.entries[len(s.entries)/2:])
		copy(s.seqs, s.seqs[len(s.seqs)/2:])
		s.entries, s.seqs = s.entries[:n], s.seqs[:n]
	}
	s.entries = append(s.entries, e)
	s.seqs = append(s.seqs, s.seq)
	s.seq++
	s.mu.Unlock()
	if w := v.m.opts.LogWriter; w != nil {
		fmt.Fprintln(w, e.String())
	}
}

func (s *logStore) addTrap(msg string) {
	s.mu.Lock()
	s.trapLog = append(s.trapLog, msg)
	s.mu.Unlock()
}

func (s *logStore) all() []LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogEntry(nil), s.entries...)
}

func (s *logStore) at(level LogLevel) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.entries {
		if e.Level == level {
			out = append(out, e.Message)
		}
	}
	return out
}

func (s *logStore) traps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.trapLog...)
}

// recentErrors returns the last few warning-or-worse lines one worker
// logged since sequence number since, formatted for an error message
// (": msg; msg").
func (s *logStore) recentErrors(worker int, since uint64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var msgs []string
	for i := len(s.entries) - 1; i >= 0 && len(msgs) < 3 && s.seqs[i] >= since; i-- {
		if e := s.entries[i]; e.Worker == worker && e.Level >= LogWarn {
			msgs = append([]string{e.Message}, msgs...)
		}
	}
	if len(msgs) == 0 {
		return ""
	}
	return ": " + strings.Join(msgs, "; ")
}

func logFunctions() []hostFunc {
	return []hostFunc{
		{name: fnLog, params: i32s(3), results: resultI32, fn: hostLog,
			doc: "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_log"},
		{name: fnGetLogLevel, params: i32s(1), results: resultI32, fn: hostGetLogLevel,
			doc: "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_get_log_level"},
	}
}

// hostLog implements proxy_log(level, ptr, size).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_log
func hostLog(v *vm, stack []uint64) {
	level, ptr, size := LogLevel(stack[0]), uint32(stack[1]), uint32(stack[2])
	if level > LogCritical {
		stack[0] = uint64(statusBadArgument)
		return
	}
	msg, ok := v.read(ptr, size)
	if !ok {
		stack[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	if level >= v.m.opts.LogLevel {
		v.p.logs.add(v, level, string(msg))
	}
	stack[0] = uint64(statusOK)
}

// hostGetLogLevel implements proxy_get_log_level(return_level).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_get_log_level
func hostGetLogLevel(v *vm, stack []uint64) {
	if !v.writeU32(uint32(stack[0]), uint32(v.m.opts.LogLevel)) {
		stack[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	stack[0] = uint64(statusOK)
}
