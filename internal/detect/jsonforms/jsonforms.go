// Package jsonforms writes a string as JSON string content in the ways
// encoders write it, for the tests that hold detection's escaped-form
// pre-checks (detect.CanClassifyJSON and the inventory's use of it) to
// what the decoded value is.
package jsonforms

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Of returns s written as JSON string content (without the quotes) in
// three ways: escaping only what JSON requires (and <, > and &, as
// encoding/json does), every character outside ASCII as \u (as
// ensure_ascii encoders do), and every character as \u.
func Of(s string) []string {
	plain, err := json.Marshal(s)
	if err != nil {
		panic(err) // a string always marshals
	}
	var ascii, all strings.Builder
	for _, r := range s {
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&all, `\u%04x`, u)
			if r >= utf8.RuneSelf {
				fmt.Fprintf(&ascii, `\u%04X`, u)
			}
		}
		if r < utf8.RuneSelf {
			q, _ := json.Marshal(string(r))
			ascii.Write(q[1 : len(q)-1])
		}
	}
	return []string{string(plain[1 : len(plain)-1]), ascii.String(), all.String()}
}
