//go:build wasip1

package main

import "unsafe"

//go:wasmimport wasi_snapshot_preview1 clock_time_get
func clockTimeGet(id uint32, precision uint64, result unsafe.Pointer) uint32

// clockProcessCPU is WASI's CLOCK_PROCESS_CPUTIME_ID.
const clockProcessCPU = 2

// cpuNow returns the process's CPU time in ns, if the host has the clock
// (Node's WASI does; wazero does not).
func cpuNow() (int64, bool) {
	var t uint64
	if clockTimeGet(clockProcessCPU, 1, unsafe.Pointer(&t)) != 0 {
		return 0, false
	}
	return int64(t), true
}
