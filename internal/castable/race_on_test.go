//go:build race

package castable

// raceEnabled shrinks the long single-goroutine tests under -race, where they
// prove nothing more and run ten times slower.
const raceEnabled = true
