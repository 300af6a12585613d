package config

import (
	"errors"
	"strconv"
	"strings"
)

// Paths and JSON Pointers.
//
// Errors name values by a dotted path: object keys that are identifiers
// (letters, digits, '_', '-') join with a dot (`jwt.providers.corp`), any
// other key is quoted in brackets (`providers["a.b"]`), and array elements
// are indexed in brackets (`rules[2]`). A JSON Schema validator names them by
// a JSON Pointer (RFC 6901): `/jwt/providers/corp`, `/providers/a.b`,
// `/rules/2`. PathToPointer maps a path to its pointer, which is unambiguous.
// The way back needs the document, since `/rules/2` may be the key "2" of an
// object or the element 2 of an array: PointerToPath reads it.

// segment is one step of a path: an object key or an array index.
type segment struct {
	key   string
	index int
	isKey bool
}

// parsePath splits a dotted path into segments.
func parsePath(path string) ([]segment, error) {
	var segs []segment
	for i := 0; i < len(path); {
		switch {
		case path[i] == '[' && i+1 < len(path) && path[i+1] == '"':
			end := i + 2
			for end < len(path) && path[end] != '"' {
				if path[end] == '\\' {
					end++
				}
				end++
			}
			if end+1 >= len(path) || path[end+1] != ']' {
				return nil, errors.New("unterminated quoted key in " + strconv.Quote(path))
			}
			key, err := strconv.Unquote(path[i+1 : end+1])
			if err != nil {
				return nil, errors.New("bad quoted key in " + strconv.Quote(path))
			}
			segs = append(segs, segment{key: key, isKey: true})
			i = end + 2
		case path[i] == '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				return nil, errors.New("unterminated index in " + strconv.Quote(path))
			}
			n, err := strconv.Atoi(path[i+1 : i+end])
			if err != nil || n < 0 {
				return nil, errors.New("bad index in " + strconv.Quote(path))
			}
			segs = append(segs, segment{index: n})
			i += end + 1
		default:
			if path[i] == '.' {
				if i == 0 {
					return nil, errors.New("path starts with a dot: " + strconv.Quote(path))
				}
				i++
			}
			end := i
			for end < len(path) && path[end] != '.' && path[end] != '[' {
				end++
			}
			if end == i {
				return nil, errors.New("empty key in " + strconv.Quote(path))
			}
			segs = append(segs, segment{key: path[i:end], isKey: true})
			i = end
		}
	}
	return segs, nil
}

// PathToPointer converts a dotted path to a JSON Pointer ("" is the root).
func PathToPointer(path string) (string, error) {
	segs, err := parsePath(path)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		if s.isKey {
			b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s.key))
		} else {
			b.WriteString(strconv.Itoa(s.index))
		}
	}
	return b.String(), nil
}

// PointerToPath converts a JSON Pointer into data to a dotted path, reading
// the document to tell array indexes from object keys. The pointer may end
// one key past the document (a missing required key).
func PointerToPath(data []byte, pointer string) (string, error) {
	if pointer == "" {
		return "", nil
	}
	if pointer[0] != '/' {
		return "", errors.New("JSON Pointer does not start with '/': " + strconv.Quote(pointer))
	}
	root, perr := parse(data)
	if perr != nil {
		return "", perr
	}
	unescape := strings.NewReplacer("~1", "/", "~0", "~")
	n, path := root, ""
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok = unescape.Replace(tok)
		if n != nil && n.kind == kindArray {
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.elems) {
				return "", errors.New("no element " + strconv.Quote(tok) + " at " + strconv.Quote(path))
			}
			path, n = indexPath(path, i), n.elems[i]
			continue
		}
		path = keyPath(path, tok)
		n = n.child(tok)
	}
	return path, nil
}

// child is the value of key in an object node, nil when absent.
func (n *node) child(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.elems[i]
		}
	}
	return nil
}

// find returns the node at a path relative to n, or the deepest node on the
// way that exists (n itself when nothing matches).
func (n *node) find(rel string) *node {
	segs, err := parsePath(rel)
	if err != nil {
		return n
	}
	cur := n
	for _, s := range segs {
		var next *node
		switch {
		case s.isKey:
			next = cur.child(s.key)
		case cur.kind == kindArray && s.index < len(cur.elems):
			next = cur.elems[s.index]
		}
		if next == nil {
			return cur
		}
		cur = next
	}
	return cur
}

// KeyPath appends an object key to a dotted path, quoting it when it is not
// an identifier: KeyPath("jwt.providers", "a.b") is `jwt.providers["a.b"]`.
func KeyPath(base, key string) string { return keyPath(base, key) }

// IndexPath appends an array index to a dotted path.
func IndexPath(base string, i int) string { return indexPath(base, i) }

// Locate returns the line and column of the value at path in data, or of
// the deepest value on the way that exists; 0, 0 when data does not parse.
func Locate(data []byte, path string) (line, col int) {
	root, err := parse(data)
	if err != nil {
		return 0, 0
	}
	return lineColumn(data, root.find(path).start)
}
