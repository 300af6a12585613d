package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/internal/inventory"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
)

// inventoryState is the response inventory of one plugin configuration
// (docs/response-inventory.md). cfg is nil without a response_inventory
// section.
type inventoryState struct {
	cfg        *inventory.Config
	classifier *inventory.Classifier
	store      *inventory.Store
	// routes match the configured routes, in order, beside their names.
	routes []*route.Matcher
	names  []string
	labels []string // metric labels of names
	// free holds the per-stream state of finished streams for reuse.
	free       []*streamInventory
	lastExport time.Time
}

// streamInventory is what one observed stream records.
type streamInventory struct {
	resp *inventory.Response
	obs  *inventory.Observer
}

// inventoryStream is the inventory's state of one stream.
type inventoryStream struct {
	st    *streamInventory // nil: not observed
	route string           // the inventory's route
	label string           // its metric label
	// streaming is set while an unfiltered body is followed chunk by chunk.
	streaming bool
}

func (p *pluginContext) configureInventory(s *settings.Settings) error {
	p.inventory = inventoryState{}
	c := s.ResponseInventory
	if c == nil {
		return nil
	}
	cl, err := c.Classifier()
	if err != nil {
		return fmt.Errorf("response_inventory: %w", err)
	}
	store, err := inventory.NewStore(sharedData{}, inventory.StoreOptions{Namespace: inventory.Namespace(p.rootID), MaxEntries: c.Entries()})
	if err != nil {
		return fmt.Errorf("response_inventory: %w", err)
	}
	st := inventoryState{cfg: c, classifier: cl, store: store, names: c.RouteNames()}
	for i, r := range c.Routes {
		m, err := route.Compile(r.Match)
		if err != nil {
			return fmt.Errorf("response_inventory.routes[%d].match: %w", i, err)
		}
		st.routes = append(st.routes, m)
		st.labels = append(st.labels, inventory.MetricLabel(r))
	}
	p.inventory = st
	return nil
}

// prepareInventory decides, once the request stages passed, whether the
// response is observed and under which route: the first
// response_inventory route that matches (none: not observed), or without
// routes the response_filter rule, the jwt rule, else _other. A filtered
// response is always classified, in the filter's pass; an unfiltered one
// is observed at the sample rate.
func (h *httpContext) prepareInventory() {
	inv := &h.plugin.inventory
	if inv.cfg == nil {
		return
	}
	is := &h.inventoryStream
	switch {
	case len(inv.routes) > 0:
		req := &route.Request{Method: h.requestMethod(), Path: h.path, Header: h.requestHeader}
		for i, m := range inv.routes {
			if m.Matches(req) {
				is.route, is.label = inv.names[i], inv.labels[i]
				break
			}
		}
		if is.route == "" {
			return
		}
	case h.respFilterStream.Policy() != nil && h.respFilterStream.Policy().Name() != "":
		is.route = h.respFilterStream.Policy().Name()
	default:
		is.route = h.routeLabel()
	}
	if is.label == "" {
		is.label = is.route
	}
	if h.respFilterStream.Policy() == nil && rand.Float64() >= inv.cfg.Rate() {
		return
	}
	is.st = inv.get()
}

func (inv *inventoryState) get() *streamInventory {
	if n := len(inv.free); n > 0 {
		st := inv.free[n-1]
		inv.free = inv.free[:n-1]
		return st
	}
	r := inventory.NewResponse(inv.classifier)
	return &streamInventory{resp: r, obs: inventory.NewObserver(r)}
}

// maxFreeInventories bounds the reusable per-stream states a worker keeps.
const maxFreeInventories = 4

func (inv *inventoryState) put(st *streamInventory) {
	st.resp.Reset()
	st.obs.Reset()
	if len(inv.free) < maxFreeInventories {
		inv.free = append(inv.free, st)
	}
}

// inspector is what the response filter shows kept values to: the
// stream's inventory, or nil.
func (h *httpContext) inspector() respfilter.Inspector {
	if st := h.inventoryStream.st; st != nil {
		return st.resp
	}
	return nil
}

// observeResponseHeaders starts following a JSON body the response filter
// does not take: an unfiltered route's, or on a filtered route one its
// rule leaves alone (a status it does not list, an opted-in pass). A
// compressed body, or one that is not JSON, is not followed: observation
// never holds a response to decode it.
func (h *httpContext) observeResponseHeaders(endOfStream bool) {
	is := &h.inventoryStream
	if is.st == nil || h.respFilterStream.Takes() || h.ownReply || endOfStream {
		return
	}
	ct, _ := proxywasm.GetHttpResponseHeader("content-type")
	ce, _ := proxywasm.GetHttpResponseHeader("content-encoding")
	if !isJSONType(ct) || (ce != "" && !strings.EqualFold(ce, "identity")) {
		h.plugin.inventory.put(is.st)
		is.st = nil
		return
	}
	is.streaming = true
}

// isJSONType reports application/json and the +json types.
func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// observeResponseBody follows the chunk of an unfiltered body that is
// passing now; the chunk goes on unchanged.
func (h *httpContext) observeResponseBody(bodySize int, endOfStream bool) {
	is := &h.inventoryStream
	if !is.streaming {
		return
	}
	if bodySize > 0 {
		chunk, err := proxywasm.GetHttpResponseBody(0, bodySize)
		if err != nil {
			is.st.resp.Incomplete = true
			is.streaming = false
			return
		}
		is.st.obs.Write(chunk)
	}
	if endOfStream {
		is.st.obs.Close()
		is.streaming = false
	}
}

// finishInventory merges what the stream saw into the shared inventory,
// and counts and reports it.
func (h *httpContext) finishInventory() {
	is := &h.inventoryStream
	st := is.st
	if st == nil {
		return
	}
	is.st = nil
	inv := &h.plugin.inventory
	defer inv.put(st)
	if is.streaming {
		st.obs.Close() // trailers, or a reset: what was seen counts
	}
	r := st.resp
	if len(r.Fields()) == 0 {
		return
	}
	h.countInventory(is.label, r)
	findings, stats, err := inv.store.Merge(is.route, r)
	if err != nil {
		proxywasm.LogWarnf("apiguard: response_inventory: %v", err)
	}
	h.plugin.metrics.InventoryDropped(uint64(stats.Full + stats.Errors + r.Dropped))
	if len(findings) > 0 && findings[0].FirstOnRoute {
		// Every finding of the merge that gave the route its first class
		// carries the flag: one exposure.
		m := h.plugin.metrics
		m.SensitiveExposure(m.InventoryRoute(is.label))
	}
	for _, f := range findings {
		h.reportFinding(f)
	}
}

// tickInventory exports the inventory through the audit sink when it
// changed and export_interval has passed since this worker last did; one
// worker exports each change.
func (p *pluginContext) tickInventory(now time.Time) {
	inv := &p.inventory
	if inv.cfg == nil || now.Sub(inv.lastExport) < inv.cfg.Interval() {
		return
	}
	if !inv.store.ClaimExport() {
		return
	}
	inv.lastExport = now
	snap, err := inv.store.Snapshot()
	if err != nil {
		proxywasm.LogWarnf("apiguard: response_inventory: export: %v", err)
		return
	}
	p.exportInventory(snap, now)
}

// inventoryPartBytes bounds the inventory carried by one audit event, well
// under audit.MaxEventBytes with the event's other fields.
const inventoryPartBytes = 12 << 10

// countInventory counts an observed response and the sensitive values it
// held, by route and class.
func (h *httpContext) countInventory(label string, r *inventory.Response) {
	m := h.plugin.metrics
	label = m.InventoryRoute(label)
	m.InventoryObserved(label)
	if r.Found == 0 {
		return
	}
	c := r.Classifier()
	for i, n := range r.Values {
		if n > 0 {
			m.InventoryValues(label, c.Name(i), uint64(n))
		}
	}
}

// reportFinding writes the audit event of a class first seen at a path,
// with the security signal when it is the route's first class.
func (h *httpContext) reportFinding(f inventory.Finding) {
	e := &audit.Event{Type: audit.EventSensitiveField, Time: time.Now(), Route: f.Route, Field: f.Path, Class: f.Class}
	if f.FirstOnRoute {
		e.Signals = []string{audit.SignalSensitiveDataExposed}
	}
	t := &h.plugin.telemetry
	if t.auditor != nil && t.auditor.Enabled() {
		t.write(t.auditor.Record(e, e.Time))
	}
}

// exportInventory writes the inventory through the audit sink, one event
// per route part.
func (p *pluginContext) exportInventory(snap inventory.Export, now time.Time) {
	t := &p.telemetry
	if t.auditor == nil || !t.auditor.Enabled() {
		return
	}
	parts, dropped := snap.Parts(inventoryPartBytes)
	p.metrics.InventoryDropped(uint64(dropped))
	for _, part := range parts {
		ip := &audit.InventoryPart{Route: part.Route, Fields: make([]audit.InventoryField, len(part.Fields))}
		for i, f := range part.Fields {
			ip.Fields[i] = audit.InventoryField{Path: f.Path, Types: f.Types, Classes: f.Classes}
		}
		t.write(t.auditor.Record(&audit.Event{Type: audit.EventInventory, Time: now, Route: part.Route, Inventory: ip}, now))
	}
}
