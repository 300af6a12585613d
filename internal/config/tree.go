package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Limits on the input, so that a hostile or broken configuration cannot
// exhaust memory or the stack at plugin start.
const (
	// MaxBytes is the largest configuration Decode accepts.
	MaxBytes = 4 << 20
	// MaxDepth is the deepest nesting of objects and arrays Decode accepts.
	MaxDepth = 64
	// MaxValues is the most JSON values (scalars, objects and arrays) Decode
	// accepts; it bounds the memory of the parse tree.
	MaxValues = 200_000
)

type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

func (k nodeKind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "boolean"
	case kindNumber:
		return "number"
	case kindString:
		return "string"
	case kindObject:
		return "object"
	default:
		return "array"
	}
}

// node is one parsed JSON value. Objects keep their keys in document order,
// and every node remembers its byte span so json.Unmarshaler fields can be
// handed their raw text.
type node struct {
	kind       nodeKind
	b          bool
	text       string   // string value, or the number's literal
	keys       []string // object keys, in order
	keyStart   []int    // byte offset of each key (parallel to keys)
	elems      []*node  // object values (parallel to keys) or array elements
	start, end int      // byte span in the input
}

// parser builds a node tree from json.Decoder tokens.
type parser struct {
	data   []byte
	dec    *json.Decoder
	values int
}

func parse(data []byte) (*node, *Error) {
	if len(data) > MaxBytes {
		return nil, &Error{Msg: "configuration is larger than 4 MiB"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Msg: "configuration is empty"}
	}
	p := &parser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	n, err := p.value("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, p.at(p.valueStart(n.end), &Error{Msg: "unexpected data after the top-level value"})
	}
	return n, nil
}

// valueStart finds where the value that ends at the current decoder offset
// began, skipping the separators json.Decoder consumed before it.
func (p *parser) valueStart(prev int) int {
	for prev < len(p.data) {
		switch p.data[prev] {
		case ' ', '\t', '\r', '\n', ',', ':':
			prev++
		default:
			return prev
		}
	}
	return prev
}

// syntaxError locates a json.Decoder error by line and column: the offset
// of a json.Decoder's SyntaxError is that of the offending byte.
func (p *parser) syntaxError(path string, err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		e := &Error{Path: path}
		e.Line, e.Column = lineColumn(p.data, int(se.Offset))
		e.Msg = "invalid JSON at line " + itoa(e.Line) + ", column " + itoa(e.Column) + ": " + se.Error()
		return e
	}
	e := &Error{Path: path}
	e.Line, e.Column = lineColumn(p.data, len(p.data))
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		e.Msg = "invalid JSON: unexpected end of input"
	} else {
		e.Msg = "invalid JSON: " + err.Error()
	}
	return e
}

// at gives an error the position of byte offset off.
func (p *parser) at(off int, e *Error) *Error {
	e.Line, e.Column = lineColumn(p.data, off)
	return e
}

func (p *parser) value(path string, depth int) (*node, *Error) {
	prev := int(p.dec.InputOffset())
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntaxError(path, err)
	}
	n := &node{start: p.valueStart(prev)}
	if p.values++; p.values > MaxValues {
		return nil, p.at(n.start, &Error{Path: path, Msg: "more than " + itoa(MaxValues) + " JSON values"})
	}
	switch t := tok.(type) {
	case nil:
		n.kind = kindNull
	case bool:
		n.kind, n.b = kindBool, t
	case json.Number:
		n.kind, n.text = kindNumber, string(t)
	case string:
		n.kind, n.text = kindString, t
	case json.Delim:
		if t != '{' && t != '[' {
			return nil, p.at(n.start, &Error{Path: path, Msg: "invalid JSON: unexpected " + string(t)})
		}
		if depth >= MaxDepth {
			return nil, p.at(n.start, &Error{Path: path, Msg: "nesting deeper than " + itoa(MaxDepth) + " levels"})
		}
		var perr *Error
		if t == '{' {
			perr = p.object(n, path, depth)
		} else {
			perr = p.array(n, path, depth)
		}
		if perr != nil {
			return nil, perr
		}
	}
	n.end = int(p.dec.InputOffset())
	return n, nil
}

func (p *parser) object(n *node, path string, depth int) *Error {
	n.kind = kindObject
	seen := make(map[string]struct{})
	for p.dec.More() {
		keyStart := p.valueStart(int(p.dec.InputOffset()))
		tok, err := p.dec.Token()
		if err != nil {
			return p.syntaxError(path, err)
		}
		key, ok := tok.(string)
		if !ok {
			return p.at(keyStart, &Error{Path: path, Msg: "invalid JSON: object key is not a string"})
		}
		kp := keyPath(path, key)
		if _, dup := seen[key]; dup {
			return p.at(keyStart, &Error{Path: kp, Msg: "duplicate key", Key: true})
		}
		seen[key] = struct{}{}
		v, verr := p.value(kp, depth+1)
		if verr != nil {
			return verr
		}
		n.keys = append(n.keys, key)
		n.keyStart = append(n.keyStart, keyStart)
		n.elems = append(n.elems, v)
	}
	if _, err := p.dec.Token(); err != nil { // '}'
		return p.syntaxError(path, err)
	}
	return nil
}

func (p *parser) array(n *node, path string, depth int) *Error {
	n.kind = kindArray
	for p.dec.More() {
		v, err := p.value(indexPath(path, len(n.elems)), depth+1)
		if err != nil {
			return err
		}
		n.elems = append(n.elems, v)
	}
	if _, err := p.dec.Token(); err != nil { // ']'
		return p.syntaxError(path, err)
	}
	return nil
}

// generic converts a node to the value encoding/json with UseNumber would
// produce for an `any` target.
func (n *node) generic() any {
	switch n.kind {
	case kindBool:
		return n.b
	case kindNumber:
		return json.Number(n.text)
	case kindString:
		return n.text
	case kindObject:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k] = n.elems[i].generic()
		}
		return m
	case kindArray:
		s := make([]any, len(n.elems))
		for i, e := range n.elems {
			s[i] = e.generic()
		}
		return s
	default:
		return nil
	}
}
