package config

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in JSON as a Go duration string, the
// Envoy convention: "1.5s", "60s", "300ms", "1h30m". Bare numbers are refused
// because their unit would be a guess, and negative durations are refused
// because no setting in apiguard means anything by them.
type Duration struct{ time.Duration }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '"' {
		got := "number"
		switch {
		case len(b) == 0:
			got = "nothing"
		case b[0] == 'n':
			got = "null"
		case b[0] == 't' || b[0] == 'f':
			got = "boolean"
		case b[0] == '{':
			got = "object"
		case b[0] == '[':
			got = "array"
		}
		if got == "number" && len(b) <= 20 {
			if v, err := time.ParseDuration(string(b) + "s"); err == nil && v >= 0 {
				return Errorf("", "expected a duration string such as \"%ss\", got number", string(b))
			}
		}
		return Errorf("", "expected a duration string such as \"1.5s\", got %s", got)
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf("", "invalid duration string")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return Errorf("", "invalid duration %s: %s", strconv.Quote(s), durationProblem(err))
	}
	if v < 0 {
		return Errorf("", "invalid duration %s: must not be negative", strconv.Quote(s))
	}
	d.Duration = v
	return nil
}

// durationProblem rephrases time.ParseDuration's error without repeating the
// input.
func durationProblem(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "missing unit"):
		return "missing unit (use ns, us, ms, s, m or h)"
	case strings.Contains(msg, "unknown unit"):
		return "unknown unit (use ns, us, ms, s, m or h)"
	default:
		return "not a duration such as \"1.5s\""
	}
}

// MarshalJSON writes the duration as a string that UnmarshalJSON accepts.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.Duration.String())
}
