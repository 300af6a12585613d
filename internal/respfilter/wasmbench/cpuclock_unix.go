//go:build unix

package main

import "syscall"

// cpuNow returns the process's CPU time in ns, user and system.
func cpuNow() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
