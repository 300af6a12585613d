package config

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validator is implemented by configuration types that check themselves.
// Decode calls Validate on a value's pointer right after decoding the value,
// so children are validated before their parents. It is not called for
// values absent from the JSON; a parent checks required fields.
type Validator interface {
	Validate() error
}

var (
	validatorType       = reflect.TypeFor[Validator]()
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

// Decode parses data as a single JSON value and stores it in v, which must
// be a non-nil pointer. It differs from json.Unmarshal in being strict:
//
//   - unknown object keys, duplicate keys, trailing data and invalid UTF-8
//     are errors, and keys match struct tags exactly (no case folding);
//   - a struct field tagged `config:"required"` must be present;
//   - a value of the wrong JSON type is an error (null is accepted only for
//     pointers, slices, maps and `any`, and sets them to nil);
//   - integers must be whole and within the field's range;
//   - fields of type `any` receive numbers as json.Number;
//   - json.Unmarshaler types receive the raw bytes of their value, and
//     encoding.TextUnmarshaler types receive JSON strings;
//   - after a value is decoded without error, Validate is called if its
//     pointer implements Validator (see there).
//
// Every error is an *Error naming the JSON path of the offending value.
// Decode returns the first error in document order (the plugin refuses the
// configuration with it); DecodeAll returns all of them. v may then be
// partly filled.
func Decode(data []byte, v any) error {
	if errs := DecodeAll(data, v); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// DecodeAll is Decode, reporting every error instead of the first: each
// structural error (unknown key, wrong type, missing required key) is
// reported and decoding goes on with the value's siblings. A value whose
// subtree had an error is not validated, so one mistake is reported once.
// A syntax error ends the parse, so it is the only error reported. Errors
// carry the line and column of the value they are about.
func DecodeAll(data []byte, v any) ErrorList {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return ErrorList{{Msg: "Decode needs a non-nil pointer, got " + reflect.TypeOf(v).String()}}
	}
	if len(data) > MaxBytes {
		return ErrorList{{Msg: "configuration is larger than 4 MiB"}}
	}
	if !utf8.Valid(data) {
		return ErrorList{{Msg: "configuration is not valid UTF-8"}}
	}
	root, err := parse(data)
	if err != nil {
		return ErrorList{err}
	}
	d := decoder{data: data}
	d.value(rv.Elem(), root, "")
	return d.errs
}

type decoder struct {
	data []byte
	errs ErrorList
}

// fail records an error about the value or key at byte offset off.
func (d *decoder) fail(off int, e *Error) bool {
	if e.Line == 0 {
		e.Line, e.Column = lineColumn(d.data, off)
	}
	d.errs = append(d.errs, e)
	return false
}

// value decodes n into the addressable value v, then runs its Validate hook
// if nothing in n was wrong. It reports whether n decoded without error.
func (d *decoder) value(v reflect.Value, n *node, path string) bool {
	if !d.assign(v, n, path) {
		return false
	}
	if err := validate(v, path); err != nil {
		// Validate names a path relative to v: point at the value it names
		// when the document has it.
		rel := strings.TrimPrefix(strings.TrimPrefix(err.Path, path), ".")
		return d.fail(n.find(rel).start, err)
	}
	return true
}

func validate(v reflect.Value, path string) *Error {
	if !v.CanAddr() {
		return nil
	}
	p := v.Addr()
	if !p.Type().Implements(validatorType) {
		return nil
	}
	if err := p.Interface().(Validator).Validate(); err != nil {
		return wrapAt(path, err)
	}
	return nil
}

func (d *decoder) mismatch(path, want string, n *node) bool {
	return d.fail(n.start, &Error{Path: path, Msg: "expected " + want + ", got " + n.kind.String()})
}

func (d *decoder) assign(v reflect.Value, n *node, path string) bool {
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if n.kind == kindNull {
			v.SetZero()
			return true
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return d.value(v.Elem(), n, path)
	}
	if v.CanAddr() {
		pt := reflect.PointerTo(t)
		if pt.Implements(unmarshalerType) {
			raw := d.data[n.start:n.end]
			if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
				return d.fail(n.start, wrapAt(path, err))
			}
			return true
		}
		if pt.Implements(textUnmarshalerType) {
			if n.kind != kindString {
				return d.mismatch(path, "string", n)
			}
			if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.text)); err != nil {
				return d.fail(n.start, wrapAt(path, err))
			}
			return true
		}
	}
	if t == numberType {
		if n.kind != kindNumber {
			return d.mismatch(path, "number", n)
		}
		v.SetString(n.text)
		return true
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return d.fail(n.start, &Error{Path: path, Msg: "unsupported Go type " + t.String()})
		}
		if n.kind == kindNull {
			v.SetZero()
		} else {
			v.Set(reflect.ValueOf(n.generic()))
		}
		return true
	case reflect.Struct:
		return d.structValue(v, n, path)
	case reflect.Map:
		return d.mapValue(v, n, path)
	case reflect.Slice:
		return d.sliceValue(v, n, path)
	case reflect.Array:
		return d.arrayValue(v, n, path)
	case reflect.String:
		if n.kind != kindString {
			return d.mismatch(path, "string", n)
		}
		v.SetString(n.text)
		return true
	case reflect.Bool:
		if n.kind != kindBool {
			return d.mismatch(path, "boolean", n)
		}
		v.SetBool(n.b)
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.kind != kindNumber {
			return d.mismatch(path, "integer", n)
		}
		i, err := strconv.ParseInt(n.text, 10, t.Bits())
		if err != nil {
			return d.fail(n.start, numberError(path, n.text, t, err))
		}
		v.SetInt(i)
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if n.kind != kindNumber {
			return d.mismatch(path, "integer", n)
		}
		if strings.HasPrefix(n.text, "-") && isDigits(n.text[1:]) {
			return d.fail(n.start, &Error{Path: path, Msg: "expected a non-negative integer, got " + n.text})
		}
		u, err := strconv.ParseUint(n.text, 10, t.Bits())
		if err != nil {
			return d.fail(n.start, numberError(path, n.text, t, err))
		}
		v.SetUint(u)
		return true
	case reflect.Float32, reflect.Float64:
		if n.kind != kindNumber {
			return d.mismatch(path, "number", n)
		}
		f, err := strconv.ParseFloat(n.text, t.Bits())
		if err != nil {
			return d.fail(n.start, &Error{Path: path, Msg: "number " + n.text + " is out of range"})
		}
		v.SetFloat(f)
		return true
	default:
		return d.fail(n.start, &Error{Path: path, Msg: "unsupported Go type " + t.String()})
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func numberError(path, text string, t reflect.Type, err error) *Error {
	if errors.Is(err, strconv.ErrRange) {
		return &Error{Path: path, Msg: "number " + text + " overflows " + t.Kind().String()}
	}
	return &Error{Path: path, Msg: "expected an integer, got " + text}
}

func (d *decoder) structValue(v reflect.Value, n *node, path string) bool {
	if n.kind != kindObject {
		return d.mismatch(path, "object", n)
	}
	fields := cachedFields(v.Type())
	ok := true
	for i, key := range n.keys {
		kp := keyPath(path, key)
		f, known := fields.byName[key]
		if !known {
			msg := "unknown key" + suggest(key, fields.names)
			if repl, renamed := fields.renamed[key]; renamed {
				msg = "renamed to " + strconv.Quote(repl)
			}
			ok = d.fail(n.keyStart[i], &Error{Path: kp, Msg: msg, Key: true})
			continue
		}
		fv, err := fieldByIndex(v, f.index, kp)
		if err != nil {
			ok = d.fail(n.elems[i].start, err)
			continue
		}
		if !d.value(fv, n.elems[i], kp) {
			ok = false
			continue
		}
		// The value is not echoed: a secret pasted into the wrong key must
		// not reach Envoy's logs.
		if f.enum != nil && fv.Kind() == reflect.String && !slices.Contains(f.enum, fv.String()) {
			msg := "must be " + quoteList(f.enum)
			// An old spelling is a known word, so it can be echoed.
			if repl, renamed := f.renamedValues[fv.String()]; renamed {
				msg = strconv.Quote(fv.String()) + " was renamed to " + strconv.Quote(repl)
			}
			ok = d.fail(n.elems[i].start, &Error{Path: kp, Msg: msg})
		}
	}
	for _, name := range fields.required {
		if !slices.Contains(n.keys, name) {
			ok = d.fail(n.start, &Error{Path: keyPath(path, name), Msg: "required"})
		}
	}
	return ok
}

// fieldByIndex walks to a (possibly promoted) field, allocating nil embedded
// struct pointers on the way.
func fieldByIndex(v reflect.Value, index []int, path string) (reflect.Value, *Error) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, &Error{Path: path, Msg: "cannot set embedded pointer to unexported struct"}
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, nil
}

func (d *decoder) mapValue(v reflect.Value, n *node, path string) bool {
	if n.kind == kindNull {
		v.SetZero()
		return true
	}
	if n.kind != kindObject {
		return d.mismatch(path, "object", n)
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		return d.fail(n.start, &Error{Path: path, Msg: "unsupported Go map key type " + t.Key().String()})
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.keys)))
	}
	ok := true
	for i, key := range n.keys {
		ev := reflect.New(t.Elem()).Elem()
		if !d.value(ev, n.elems[i], keyPath(path, key)) {
			ok = false
			continue
		}
		v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), ev)
	}
	return ok
}

func (d *decoder) sliceValue(v reflect.Value, n *node, path string) bool {
	if n.kind == kindNull {
		v.SetZero()
		return true
	}
	t := v.Type()
	if t.Elem().Kind() == reflect.Uint8 && n.kind == kindString {
		// Like encoding/json, []byte is a base64 string.
		b, err := base64.StdEncoding.DecodeString(n.text)
		if err != nil {
			return d.fail(n.start, &Error{Path: path, Msg: "invalid base64 string"})
		}
		v.SetBytes(b)
		return true
	}
	if n.kind != kindArray {
		return d.mismatch(path, "array", n)
	}
	s := reflect.MakeSlice(t, len(n.elems), len(n.elems))
	ok := true
	for i, e := range n.elems {
		if !d.value(s.Index(i), e, indexPath(path, i)) {
			ok = false
		}
	}
	v.Set(s)
	return ok
}

func (d *decoder) arrayValue(v reflect.Value, n *node, path string) bool {
	if n.kind != kindArray {
		return d.mismatch(path, "array", n)
	}
	if len(n.elems) != v.Len() {
		return d.fail(n.start, &Error{Path: path, Msg: "expected an array of " + itoa(v.Len()) + " elements, got " + itoa(len(n.elems))})
	}
	ok := true
	for i, e := range n.elems {
		if !d.value(v.Index(i), e, indexPath(path, i)) {
			ok = false
		}
	}
	return ok
}

func itoa(i int) string { return strconv.Itoa(i) }

// quoteList renders allowed values: "a", "b" or "c".
func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = strconv.Quote(v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
