//go:build wasip1 && apiguard_testexport

package main

import (
	"runtime"

	"github.com/apiguard/apiguard/internal/sdkabi/direct"
)

// The test-only build (tag apiguard_testexport, never shipped) exports the
// guest's allocation count, so e2e/bench can assert that a pass-through
// request allocates nothing of its own.

var memStats runtime.MemStats

// testMallocs is runtime.MemStats.Mallocs: every heap allocation the guest
// has made (ReadMemStats flushes the per-P caches, so the count is exact).
//
//go:wasmexport apiguard_test_mallocs
func testMallocs() uint64 {
	runtime.ReadMemStats(&memStats)
	return memStats.Mallocs
}

// testBodyBlockLoans is direct.BodyBlockLoans: the host's asks served from
// the reused body block, which allocated nothing.
//
//go:wasmexport apiguard_test_body_block_loans
func testBodyBlockLoans() uint64 { return direct.BodyBlockLoans() }
