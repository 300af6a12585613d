// Package config decodes the plugin's JSON configuration strictly.
//
// Unknown keys, wrong types, duplicate keys, out-of-range numbers and
// trailing data are all errors, and every error names the JSON path of the
// offending value (`jwt.providers.corp.audiences[0]`). A typo such as
// "audience" for "audiences" must stop the plugin at start-up rather than
// silently disable a check, so nothing here is lenient.
package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Error is a configuration error at a JSON path such as
// `jwt.providers.corp.audiences[0]` or `providers["a.b"]`.
type Error struct {
	Path string // "" is the document root
	Msg  string
	// Line and Column (1-based; the column counts bytes) locate the value
	// or key in the document; 0 when unknown.
	Line, Column int
	// Key is true when the error is about the key itself (unknown or
	// duplicate), so Line and Column point at the key, not at its value.
	Key bool
}

// ErrorList is every error found in a document, in document order.
type ErrorList []*Error

// Error formats one error per line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// lineColumn converts a byte offset into a 1-based line and byte column.
func lineColumn(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	return line, off - (bytes.LastIndexByte(data[:off], '\n') + 1) + 1
}

// Error formats as "config: PATH: MSG". At the document root, where the path
// is empty, it is "config: MSG".
func (e *Error) Error() string {
	if e.Path == "" {
		return "config: " + e.Msg
	}
	return "config: " + e.Path + ": " + e.Msg
}

// Errorf builds an *Error for a Validate method to return. path is relative
// to the value being validated ("" for the value itself, "audiences" for one
// of its fields, "[2]" for an element); Decode prefixes the value's own path.
func Errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// joinPath appends a relative path to a base path: a field name is joined
// with a dot, an index or quoted key ("[...]") is appended as is.
func joinPath(base, rel string) string {
	switch {
	case rel == "":
		return base
	case base == "":
		return rel
	case strings.HasPrefix(rel, "["):
		return base + rel
	default:
		return base + "." + rel
	}
}

// keyPath appends an object key to a path: identifiers as `.key`, anything
// else quoted as `["a.b"]` so the path stays unambiguous.
func keyPath(base, key string) string {
	if isIdent(key) {
		return joinPath(base, key)
	}
	return base + "[" + strconv.Quote(key) + "]"
}

func indexPath(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}

// isIdent reports whether key can appear unquoted in a path: letters, digits,
// '_' and '-' (provider names like "corp-sso" stay readable).
func isIdent(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// wrapAt turns an error returned by a Validate or UnmarshalJSON method into
// an *Error located at path.
func wrapAt(path string, err error) *Error {
	if ce, ok := err.(*Error); ok {
		return &Error{Path: joinPath(path, ce.Path), Msg: ce.Msg}
	}
	return &Error{Path: path, Msg: err.Error()}
}
