//go:build !race

package castable

const raceEnabled = false
