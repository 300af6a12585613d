// Package headerview is a request's header map as the upstream would get it
// now: read from the host once per request and kept up to date in place as
// the plugin changes headers, so no stage reads them all again and every
// stage sees the values the upstream will (a claim header set by the JWT
// stage, never the client's forged copy).
//
// It is a slice of unique (name, value) pairs, not a map: a request has a
// dozen headers, a scan of them compares lengths first, and in a Wasm guest
// a map costs about 20x what it does natively (hashing, buckets, one
// allocation each). The slice is kept when the view is reused, so a view
// allocates only to join a repeated header.
package headerview

import (
	"strings"
	"unsafe"
)

// View is one request's header view. Names are lower case; repeated headers
// are joined as canon.JoinHeaders joins them. The zero View holds nothing.
type View struct {
	// kv is the view: unique lower-case names, values joined, in the order
	// names first appear. Its backing array is reused (Reuse).
	kv   [][2]string
	held bool
	// pairs are headers as read, turned into kv on first use: most
	// requests of most configurations never look a header up.
	pairs   [][2]string
	pending bool
}

// Reuse empties the view for another request, keeping its backing array.
func (v *View) Reuse() View {
	clear(v.kv) // drop the old request's strings
	return View{kv: v.kv[:0]}
}

// Keep starts the view from headers read (and changed) elsewhere. A nil
// pairs holds nothing, as after Drop.
func (v *View) Keep(pairs [][2]string) {
	v.held, v.pairs, v.pending = false, pairs, pairs != nil
}

// Drop forgets the view, so the next Load reads the headers from the host:
// after a change the host refused, the view can no longer tell what the
// upstream will get.
func (v *View) Drop() { v.held, v.pairs, v.pending = false, nil, false }

// Load makes the view held, reading it with read when nothing is held, and
// reports whether it is. A failed read is not kept: it must not pass for a
// request without headers.
func (v *View) Load(read func() ([][2]string, error)) bool {
	if v.Held() {
		return true
	}
	all, err := read()
	if err != nil {
		return false
	}
	v.join(all)
	return true
}

// Held reports whether a view is held; it never reads.
func (v *View) Held() bool {
	if v.pending {
		v.join(v.pairs)
	}
	return v.held
}

// Get is the value of the lower-case header name in the held view; nothing
// when no view is held.
func (v *View) Get(name string) (string, bool) {
	if !v.Held() {
		return "", false
	}
	if i := v.index(name); i >= 0 {
		return v.kv[i][1], true
	}
	return "", false
}

// Len is the number of distinct names in the held view.
func (v *View) Len() int {
	if !v.Held() {
		return 0
	}
	return len(v.kv)
}

// manyHeaders is where join stops scanning for repeats and indexes names
// in a map instead: a scan per header costs the square of their number.
const manyHeaders = 64

// join makes pairs the held view: names lower case, repeats joined.
func (v *View) join(pairs [][2]string) {
	clear(v.kv)
	v.kv = v.kv[:0]
	v.held, v.pairs, v.pending = true, nil, false
	var index map[string]int
	if len(pairs) > manyHeaders {
		index = make(map[string]int, len(pairs))
	}
	// seen has a bit set for the class (nameClass) of every name kept: a
	// name of a class not seen yet is new, and the scan for it is skipped.
	// Most requests repeat no header, so most names cost no scan.
	var seen uint64
	for _, kv := range pairs {
		name := lower(kv[0])
		i := -1
		switch {
		case index != nil:
			if j, ok := index[name]; ok {
				i = j
			} else {
				index[name] = len(v.kv)
			}
		case seen&nameClass(name) != 0:
			i = v.index(name)
		default:
			seen |= nameClass(name)
		}
		if i < 0 {
			v.kv = append(v.kv, [2]string{name, kv[1]})
			continue
		}
		v.kv[i][1] = joinValues(name, v.kv[i][1], kv[1])
	}
}

// joinValues joins a repeated header's values as canon.JoinHeaders does:
// cookies with "; ", others with ",".
// nameClass is one bit of 64 standing for a lower-case name's length and
// last byte: two names of different classes differ.
func nameClass(name string) uint64 {
	if name == "" {
		return 1
	}
	return 1 << ((uint(len(name))*7 + uint(name[len(name)-1])) & 63)
}

// lower is strings.ToLower for a header name, returning name itself
// without a byte-wise pass when eight-byte words show it holds no upper
// case and no non-ASCII byte (in Wasm each byte of a byte loop goes
// through the function's dispatch loop; a name is usually lower case
// already, as Envoy keeps them).
func lower(name string) string {
	if !mayNeedLower(name) {
		return name
	}
	return strings.ToLower(name)
}

// mayNeedLower reports whether s may hold an upper-case ASCII letter or a
// non-ASCII byte; false means it holds neither.
func mayNeedLower(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	if len(s) >= 8 {
		p := unsafe.Pointer(unsafe.StringData(s))
		for ; ; i += 8 {
			if i+8 > len(s) {
				i = len(s) - 8 // the last word, overlapping the one before
			}
			w := *(*uint64)(unsafe.Add(p, i))
			// With every byte below 0x80, adding 0x80-'A' sets a byte's
			// high bit when it is >= 'A', adding 0x80-'Z'-1 when it is
			// > 'Z', and no addition carries into the next byte.
			if w&highs != 0 || (w+(0x80-'A')*ones)&^(w+(0x80-'Z'-1)*ones)&highs != 0 {
				return true
			}
			if i+8 == len(s) {
				return false
			}
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

func joinValues(name, prev, next string) string {
	sep := ","
	if name == "cookie" {
		sep = "; "
	}
	return prev + sep + next
}

// index is the position of name in kv, -1 when absent.
func (v *View) index(name string) int {
	for i := range v.kv {
		if n := v.kv[i][0]; len(n) == len(name) && n == name {
			return i
		}
	}
	return -1
}

// Every change the host accepted to the request headers is made to the view
// too, as Envoy makes it to its header map. Without a view there is nothing
// to update: the next Load reads the headers from the host.

// Remove records proxy_remove_header_map_value: every value of name goes.
func (v *View) Remove(name string) {
	if !v.Held() {
		return
	}
	if i := v.index(lower(name)); i >= 0 {
		copy(v.kv[i:], v.kv[i+1:])
		v.kv[len(v.kv)-1] = [2]string{}
		v.kv = v.kv[:len(v.kv)-1]
	}
}

// Replace records proxy_replace_header_map_value: name has one value.
func (v *View) Replace(name, value string) {
	if !v.Held() {
		return
	}
	name = lower(name)
	if i := v.index(name); i >= 0 {
		v.kv[i][1] = value
		return
	}
	v.kv = append(v.kv, [2]string{name, value})
}

// Add records proxy_add_header_map_value: one more value of name, joined
// after those already there as canon.JoinHeaders joins repeats.
func (v *View) Add(name, value string) {
	if !v.Held() {
		return
	}
	name = lower(name)
	if i := v.index(name); i >= 0 {
		v.kv[i][1] = joinValues(name, v.kv[i][1], value)
		return
	}
	v.kv = append(v.kv, [2]string{name, value})
}
