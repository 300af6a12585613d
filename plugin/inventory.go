package main

import (
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/internal/inventory"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/settings"
)

// inventoryStream is the response inventory's state of one stream
// (docs/response-inventory.md).
type inventoryStream struct {
	st    *inventory.Stream // nil: not observed
	route string            // the inventory's route
	label string            // its metric label
}

func (p *pluginContext) configureInventory(s *settings.Settings) (err error) {
	p.inventory = nil
	if c := s.ResponseInventory; c != nil {
		p.inventory, err = inventory.NewWorker(c, sharedData{}, p.rootID)
	}
	return err
}

// prepareInventory decides, once the request stages passed, whether the
// response is observed and under which route (inventory.Worker.Route).
func (h *httpContext) prepareInventory() {
	inv := h.plugin.inventory
	if inv == nil {
		return
	}
	policy := h.respFilterStream.Policy()
	var rule string
	if policy != nil {
		rule = policy.Name()
	}
	is := &h.inventoryStream
	var ok bool
	if is.route, is.label, ok = inv.Route(h.routeRequest, rule, h.routeLabel()); ok {
		is.st = inv.Start(policy != nil)
	}
}

// routeRequest is the request as route matchers read it.
func (h *httpContext) routeRequest() *route.Request {
	h.routeReq = route.Request{Method: h.requestMethod(), Path: h.path, Header: h.headerFn}
	return &h.routeReq
}

// inspector is what the response filter shows kept values to: the
// stream's inventory, or nil.
func (h *httpContext) inspector() respfilter.Inspector {
	if st := h.inventoryStream.st; st != nil {
		return st.Response()
	}
	return nil
}

// observeResponseHeaders starts following a body the response filter does
// not take (respfilter.Stream.Takes): an unfiltered route's, or on a
// filtered route one its rule leaves alone (a status it does not list, an
// opted-in pass); inventory.Stream.Follow decides which bodies are followed.
func (h *httpContext) observeResponseHeaders(endOfStream bool) {
	is := &h.inventoryStream
	if is.st == nil || h.respFilterStream.Takes() || h.ownReply || endOfStream {
		return
	}
	ct, _ := proxywasm.GetHttpResponseHeader("content-type")
	ce, _ := proxywasm.GetHttpResponseHeader("content-encoding")
	if !is.st.Follow(ct, ce) {
		if r := is.st.Unobserved(); r != "" {
			h.plugin.metrics.InventoryUnobserved(string(r))
		}
		h.plugin.inventory.Put(is.st)
		is.st = nil
	}
}

// observeResponseBody follows the chunk of an unfiltered body that is
// passing now; the chunk goes on unchanged.
func (h *httpContext) observeResponseBody(bodySize int, endOfStream bool) {
	st := h.inventoryStream.st
	if !st.Following() {
		return
	}
	var chunk []byte
	if bodySize > 0 {
		var err error
		if chunk, err = proxywasm.GetHttpResponseBody(0, bodySize); err != nil {
			st.Unreadable()
			return
		}
	}
	st.Write(chunk, endOfStream)
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
	inv := h.plugin.inventory
	defer inv.Put(st)
	r := st.Finish()
	unobserved := st.Unobserved()
	if unobserved != "" {
		// Not observed to its end; what it showed before still counts.
		h.plugin.metrics.InventoryUnobserved(string(unobserved))
	}
	if r == nil {
		return
	}
	h.countInventory(is.label, r, unobserved == "")
	findings, stats, err := inv.Store.Merge(is.route, r)
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
	if t := &h.plugin.telemetry; t.auditor != nil && t.auditor.Enabled() {
		for _, f := range findings {
			e := inventory.FindingEvent(f, time.Now())
			t.write(t.auditor.Record(e, e.Time))
		}
	}
}

// tickInventory exports the inventory through the audit sink when it is
// due (inventory.Worker.ExportDue), one event per route part.
func (p *pluginContext) tickInventory(now time.Time) {
	inv := p.inventory
	if inv == nil || !inv.ExportDue(now) {
		return
	}
	snap, err := inv.Store.Snapshot()
	if err != nil {
		proxywasm.LogWarnf("apiguard: response_inventory: export: %v", err)
		return
	}
	if t := &p.telemetry; t.auditor != nil && t.auditor.Enabled() {
		events, dropped := snap.Events(inventoryPartBytes, now)
		p.metrics.InventoryDropped(uint64(dropped))
		for _, e := range events {
			t.write(t.auditor.Record(e, now))
		}
	}
}

// inventoryPartBytes bounds the inventory carried by one audit event, well
// under audit.MaxEventBytes with the event's other fields.
const inventoryPartBytes = 12 << 10

// countInventory counts an observed response and the sensitive values it
// held, by route and class.
func (h *httpContext) countInventory(label string, r *inventory.Response, observed bool) {
	m := h.plugin.metrics
	label = m.InventoryRoute(label)
	if observed {
		m.InventoryObserved(label)
	}
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
