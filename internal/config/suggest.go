package config

import (
	"strconv"
	"strings"
)

// suggest returns ` (did you mean "x"?)` when a known key is a likely typo of
// key, so "audience" points at "audiences". Short keys allow one edit,
// longer ones two.
func suggest(key string, known []string) string {
	if len(key) > 64 {
		return ""
	}
	best, bestDist := "", 0
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return " (did you mean " + strconv.Quote(k) + "?)"
		}
	}
	for _, k := range known {
		limit := 2
		if len(k) <= 4 {
			limit = 1
		}
		if d := editDistance(key, k); d <= limit && (best == "" || d < bestDist) {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}

// editDistance is the Levenshtein distance between two short keys.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
