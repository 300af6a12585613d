package inventory

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
)

// OtherRoute is the route of responses no configured route names. Routes
// are names from the configuration (or path templates), never raw paths, so
// the inventory cannot grow with them.
const OtherRoute = "_other"

// MaxRouteBytes is the longest route name kept.
const MaxRouteBytes = 64

// maxEntryState bounds one stored entry: route, path, types and class
// names (longer class lists are cut).
const maxEntryState = MaxRouteBytes + MaxPathBytes + 512

// never is the expiry of inventory entries: they are not forgotten while
// the configuration lives (a new configuration starts a new namespace).
var never = time.Unix(0, math.MaxInt64)

// updateTime is the "now" of every inventory update: entries never expire,
// so the clock (a host call in Wasm) is not read.
var updateTime = time.Unix(1, 0)

// StoreOptions configure a Store.
type StoreOptions struct {
	// Namespace prefixes every shared-data key; include the plugin root id.
	Namespace string
	// MaxEntries bounds the (route, path) entries of the inventory.
	MaxEntries int
}

// Store is the inventory shared by every worker: a bounded table of (route,
// path) entries with their types and class names, and one entry per route
// with every class seen on it, in Proxy-Wasm shared data. Each worker keeps
// a local copy of what it knows is stored, so a response whose fields are
// all known costs no shared-data call. Not safe for concurrent use (one per
// worker VM); the shared data is.
type Store struct {
	store   castable.Store
	entries *castable.Table
	routes  *castable.Table
	version string // key of the change counter
	// exported is the key holding the change counter's value last
	// exported.
	exported string
	// local is what this worker knows is stored, by route and path, as
	// bits of this configuration's classifier: a known field costs two map
	// lookups and no allocation.
	local      map[string]map[string]localBits
	localCount int
	maxLocal   int
	// routeClasses is what this worker knows the routes table holds: the
	// classes seen on each route, kept apart from the field entries so
	// that a full table cannot hide a route's new class (Merge).
	routeClasses map[string]ClassSet
}

// maxLocalRoutes bounds routeClasses; routes are names from the
// configuration, so it is not reached in practice.
const maxLocalRoutes = 1024

type localBits struct {
	types   Types
	classes ClassSet
}

type localEntry struct {
	types   Types
	classes string // comma-separated, sorted
}

// NewStore returns a Store over store.
func NewStore(store castable.Store, opts StoreOptions) (*Store, error) {
	if opts.MaxEntries < 1 {
		return nil, fmt.Errorf("inventory: max entries %d must be positive", opts.MaxEntries)
	}
	entries, err := castable.New(store, castable.Options{Namespace: opts.Namespace + "/fields", Slots: opts.MaxEntries, Ways: 8, MaxStateBytes: maxEntryState})
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	// Routes are bounded by the configuration; four times the slots keeps
	// their tables sparse.
	routes, err := castable.New(store, castable.Options{Namespace: opts.Namespace + "/routes", Slots: 256, Ways: 8, MaxStateBytes: MaxRouteBytes + 512})
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return &Store{
		store: store, entries: entries, routes: routes,
		version: opts.Namespace + "/version", exported: opts.Namespace + "/exported",
		local: make(map[string]map[string]localBits), maxLocal: opts.MaxEntries,
		routeClasses: make(map[string]ClassSet),
	}, nil
}

// MaxBytes is the most shared data the inventory can hold, keys and values.
func (s *Store) MaxBytes() int {
	return s.entries.MaxBytes() + s.routes.MaxBytes() + 2*(len(s.version)+20)
}

// Finding is a class seen for the first time at a path of a route: the
// worker whose write added it reports it, once for the whole fleet of
// workers sharing the data.
type Finding struct {
	Route, Path, Class string
	// FirstOnRoute is set on the findings of the write that gave a route
	// its first class: a sensitive class appeared where there was none.
	FirstOnRoute bool
}

// MergeStats says what a Merge did beyond its findings.
type MergeStats struct {
	NewPaths int // entries created
	Full     int // fields not stored: every candidate slot holds another entry
	Errors   int // fields not stored: the shared data failed or was contended
}

// Merge adds the fields of one response on route to the inventory and
// returns the classes seen there for the first time.
func (s *Store) Merge(route string, r *Response) ([]Finding, MergeStats, error) {
	route = boundRoute(route)
	var findings []Finding
	var st MergeStats
	var firstErr error
	known := s.local[route]
	for _, f := range r.Fields() {
		if l, ok := known[f.Path]; ok && l.types|f.Types == l.types && l.classes|f.Classes == l.classes {
			continue
		}
		classes := r.c.setNames(f.Classes)
		key := route + "\x00" + f.Path
		var added []string
		var merged localEntry
		var created bool
		_, err := s.entries.Update(key, updateTime, func(state []byte) ([]byte, time.Time, bool) {
			added, created = nil, state == nil
			old := decodeEntry(state)
			merged = localEntry{types: old.types | f.Types, classes: old.classes}
			for _, c := range classes {
				if !hasName(old.classes, c) {
					added = append(added, c)
				}
			}
			merged.classes = unionNames(old.classes, added)
			if !created && merged.types == old.types && len(added) == 0 {
				return nil, never, false
			}
			return encodeEntry(route, f.Path, merged), never, true
		})
		switch {
		case errors.Is(err, castable.ErrFull):
			st.Full++
			continue
		case err != nil:
			st.Errors++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if created {
			st.NewPaths++
		}
		if known == nil {
			known = make(map[string]localBits)
			s.local[route] = known
		}
		if l, ok := known[f.Path]; ok {
			known[f.Path] = localBits{l.types | f.Types, l.classes | f.Classes}
		} else if s.localCount < s.maxLocal {
			known[f.Path] = localBits{f.Types, f.Classes}
			s.localCount++
		}
		if created || len(added) > 0 {
			s.bumpVersion()
		}
		for _, c := range added {
			findings = append(findings, Finding{Route: route, Path: f.Path, Class: c})
		}
	}
	// The route's classes come from every value the response held, not
	// from the fields stored: a field the table could not take (full,
	// contended) or the response could not record (its path too long)
	// still shows a class new on the route, and the signal fires.
	if known := s.routeClasses[route]; r.Found&^known != 0 || len(findings) > 0 {
		first, added, err := s.markRoute(route, r.c.setNames(r.Found))
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			// Unrecorded: a class this worker has not seen on the route is
			// reported as new (fail closed: a signal too many, never one
			// too few), once per worker.
			first, added = known == 0, r.c.setNames(r.Found&^known)
		}
		for _, c := range added {
			if !slices.ContainsFunc(findings, func(f Finding) bool { return f.Class == c }) {
				findings = append(findings, Finding{Route: route, Path: r.pathOf(c), Class: c})
			}
		}
		if first {
			for i := range findings {
				findings[i].FirstOnRoute = true
			}
		}
		if _, ok := s.routeClasses[route]; ok || len(s.routeClasses) < maxLocalRoutes {
			s.routeClasses[route] = known | r.Found
		}
	}
	return findings, st, firstErr
}

// pathOf is the first recorded path of a class named name in r, "" when
// no recorded field holds it.
func (r *Response) pathOf(name string) string {
	i := r.c.Index(name)
	for _, f := range r.fields {
		if f.Classes.Has(i) {
			return f.Path
		}
	}
	return ""
}

// markRoute adds classes to the route's entry and reports whether this
// write gave the route its first class, and the classes it added.
func (s *Store) markRoute(route string, names []string) (first bool, added []string, err error) {
	_, err = s.routes.Update(route, updateTime, func(state []byte) ([]byte, time.Time, bool) {
		old := ""
		if state != nil {
			_, old, _ = strings.Cut(string(state), "\t")
		}
		first, added = old == "", nil
		for _, n := range names {
			if !hasName(old, n) {
				added = append(added, n)
			}
		}
		if len(added) == 0 {
			first = false
			return nil, never, false
		}
		return []byte(route + "\t" + unionNames(old, added)), never, true
	})
	return first, added, err
}

// bumpVersion counts a change of the inventory, so that one worker exports
// it at the next tick. A lost race is another worker's bump: fine.
func (s *Store) bumpVersion() {
	for range 4 {
		v, cas, err := s.store.Get(s.version)
		n, _ := strconv.ParseUint(string(v), 10, 64)
		if err != nil && !errors.Is(err, castable.ErrNotFound) {
			return
		}
		if cas == 0 {
			cas = math.MaxUint32 // create without overwriting (castable's createCas)
		}
		if s.store.Set(s.version, []byte(strconv.FormatUint(n+1, 10)), cas) == nil {
			return
		}
	}
}

// ClaimExport reports whether this worker should export the inventory now:
// it changed since the last export, and this worker won the compare-and-swap
// that records the export, so one worker exports each change.
func (s *Store) ClaimExport() bool {
	v, _, err := s.store.Get(s.version)
	if err != nil {
		return false
	}
	done, cas, err := s.store.Get(s.exported)
	if err != nil && !errors.Is(err, castable.ErrNotFound) {
		return false
	}
	if string(done) == string(v) {
		return false
	}
	if cas == 0 {
		cas = math.MaxUint32
	}
	return s.store.Set(s.exported, v, cas) == nil
}

// Snapshot reads the whole inventory, routes and paths in order.
func (s *Store) Snapshot() (Export, error) {
	byRoute := map[string][]FieldExport{}
	err := s.entries.Each(time.Now(), func(state []byte) bool {
		route, path, e, ok := splitEntry(state)
		if ok {
			byRoute[route] = append(byRoute[route], FieldExport{Path: path, Types: e.types.Names(), Classes: splitNames(e.classes)})
		}
		return true
	})
	if err != nil {
		return Export{}, fmt.Errorf("inventory: snapshot: %w", err)
	}
	return newExport(byRoute), nil
}

func boundRoute(route string) string {
	if route == "" {
		return OtherRoute
	}
	if len(route) > MaxRouteBytes {
		route = route[:MaxRouteBytes]
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == 0 {
			return '?'
		}
		return r
	}, route)
}

// Entry encoding: "route\x00path\x00types\x00class,class" (types decimal).
func encodeEntry(route, path string, e localEntry) []byte {
	b := make([]byte, 0, len(route)+len(path)+len(e.classes)+8)
	b = append(b, route...)
	b = append(b, 0)
	b = append(b, path...)
	b = append(b, 0)
	b = strconv.AppendUint(b, uint64(e.types), 10)
	b = append(b, 0)
	classes := e.classes
	if room := maxEntryState - len(b); len(classes) > room {
		classes = classes[:strings.LastIndexByte(classes[:room], ',')+1]
		classes = strings.TrimSuffix(classes, ",")
	}
	return append(b, classes...)
}

func decodeEntry(state []byte) localEntry {
	_, _, e, _ := splitEntry(state)
	return e
}

func splitEntry(state []byte) (route, path string, e localEntry, ok bool) {
	parts := strings.SplitN(string(state), "\x00", 4)
	if len(parts) != 4 {
		return "", "", localEntry{}, false
	}
	t, err := strconv.ParseUint(parts[2], 10, 8)
	if err != nil {
		return "", "", localEntry{}, false
	}
	return parts[0], parts[1], localEntry{types: Types(t), classes: parts[3]}, true
}

func splitNames(csv string) []string {
	if csv == "" {
		return nil
	}
	return strings.Split(csv, ",")
}

func hasName(csv, name string) bool { return slices.Contains(splitNames(csv), name) }

// unionNames returns the sorted, comma-separated union of csv and names.
func unionNames(csv string, names []string) string {
	all := append(splitNames(csv), names...)
	slices.Sort(all)
	return strings.Join(slices.Compact(all), ",")
}

// setNames lists the names of the classes in s.
func (c *Classifier) setNames(s ClassSet) []string {
	if s == 0 || c == nil {
		return nil
	}
	var out []string
	for i := range c.names {
		if s.Has(i) && c.names[i] != "" {
			out = append(out, c.names[i])
		}
	}
	return out
}

// Namespace is the shared-data namespace of the inventory of the plugin
// whose root id is rootID: the plugin writes there, devproxy's admin reads.
func Namespace(rootID string) string { return "apiguard/" + rootID + "/inventory/v1" }
