package main

import (
	"encoding/json"
	"net/http"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/inventory"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// hostStore is castable.Store over wasmhost's shared data: the admin reads
// what the plugin's workers wrote, as Envoy's shared data would hold it.
type hostStore struct{ d *wasmhost.SharedData }

func (h hostStore) Get(key string) ([]byte, uint32, error) {
	v, cas, ok := h.d.Get(key)
	if !ok {
		return nil, 0, castable.ErrNotFound
	}
	return v, cas, nil
}

func (h hostStore) Set(key string, value []byte, cas uint32) error {
	if !h.d.Set(key, value, cas) {
		return castable.ErrCASMismatch
	}
	return nil
}

// serveInventory answers /apiguard/inventory: the response inventory the
// workers keep in shared data (docs/response-inventory.md), read through
// the same code the plugin exports it with. It holds paths, types and class
// names, never values.
func serveInventory(ready *readiness, config []byte, root string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := ready.plugin.Load()
		if p == nil {
			http.Error(w, "devproxy: the plugin has not started", http.StatusServiceUnavailable)
			return
		}
		s, err := settings.Parse(config)
		if err != nil || s.ResponseInventory == nil {
			http.Error(w, "devproxy: the configuration has no response_inventory section", http.StatusNotFound)
			return
		}
		store, err := inventory.NewStore(hostStore{p.SharedData()}, inventory.StoreOptions{
			Namespace: inventory.Namespace(root), MaxEntries: s.ResponseInventory.Entries(),
		})
		if err != nil {
			http.Error(w, "devproxy: "+err.Error(), http.StatusInternalServerError)
			return
		}
		snap, err := store.Snapshot()
		if err != nil {
			http.Error(w, "devproxy: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if snap.Routes == nil {
			snap.Routes = []inventory.RouteExport{}
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(snap)
	}
}
