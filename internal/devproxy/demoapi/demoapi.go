// Package demoapi is the small JSON API that `make run` puts behind apiguard.
//
// Its records deliberately carry what an API should never leak (password
// hashes, card numbers, internal risk flags), so the response filter has
// something to remove, and /echo shows what the upstream received after
// apiguard ran (claim headers added, credentials stripped).
package demoapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// User is a demo record. Every field is served; the plugin decides which
// ones leave.
type User struct {
	ID           int      `json:"id"`
	Name         string   `json:"name"`
	Email        string   `json:"email"`
	Role         string   `json:"role"`
	PasswordHash string   `json:"password_hash"`
	CardNumber   string   `json:"card_number"`
	Internal     Internal `json:"internal"`
	Orders       []Order  `json:"orders"`
}

// Internal holds fields only back-office tools should see.
type Internal struct {
	RiskScore float64  `json:"risk_score"`
	Flags     []string `json:"flags"`
	Notes     string   `json:"notes"`
}

// Order is a purchase of a user.
type Order struct {
	ID    string  `json:"id"`
	Total float64 `json:"total"`
	Items int     `json:"items"`
}

// Users returns the fixed demo records (a fresh copy each call).
func Users() []User {
	return []User{
		{ID: 1, Name: "Ada Lovelace", Email: "ada@example.com", Role: "admin",
			PasswordHash: "$2b$12$KIXQJ8Zs3FakeHashForDemoOnly0pQm7aVhXv6sQpY7xWcXkQ1u",
			CardNumber:   "4111111111111111",
			Internal:     Internal{RiskScore: 0.02, Flags: []string{"staff", "beta"}, Notes: "founder account"},
			Orders:       []Order{{ID: "o-1001", Total: 42.5, Items: 2}, {ID: "o-1002", Total: 9.99, Items: 1}}},
		{ID: 2, Name: "Alan Turing", Email: "alan@example.com", Role: "user",
			PasswordHash: "$2b$12$9vZfFakeHashForDemoOnlyTuringXw2LqE8bB1oYtR5nJc3mDuKs",
			CardNumber:   "5555555555554444",
			Internal:     Internal{RiskScore: 0.31, Flags: []string{"chargeback_2025"}, Notes: "manual review"},
			Orders:       []Order{{ID: "o-2001", Total: 120, Items: 3}}},
		{ID: 3, Name: "Grace Hopper", Email: "grace@example.com", Role: "user",
			PasswordHash: "$2b$12$QmNzFakeHashForDemoOnlyHopperPl0sZx9cVbN4mKj7hGf2dSa1",
			CardNumber:   "378282246310005",
			Internal:     Internal{RiskScore: 0.07, Flags: []string{}, Notes: ""},
			Orders:       []Order{}},
	}
}

// API serves the demo endpoints:
//
//	GET  /healthz      200 "ok"
//	GET  /users        every user
//	GET  /users/{id}   one user, or 404
//	POST /users        creates a user from a JSON body (201)
//	GET  /admin/stats  internal counters
//	ANY  /echo         the method, path and headers the upstream received
type API struct {
	mu    sync.Mutex
	users []User
	hits  map[string]int
}

// New returns an API holding the demo records.
func New() *API {
	return &API{users: Users(), hits: map[string]int{}}
}

// maxBody bounds request bodies the demo API reads.
const maxBody = 64 << 10

// Handler returns the API's routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /users", a.count(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		users := append([]User(nil), a.users...)
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, users)
	}))
	mux.HandleFunc("GET /users/{id}", a.count(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody("id must be a number"))
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, u := range a.users {
			if u.ID == id {
				writeJSON(w, http.StatusOK, u)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, errorBody(fmt.Sprintf("user %d not found", id)))
	}))
	mux.HandleFunc("POST /users", a.count(func(w http.ResponseWriter, r *http.Request) {
		var u User
		d := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		d.DisallowUnknownFields()
		if err := d.Decode(&u); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("body too large"))
				return
			}
			writeJSON(w, http.StatusBadRequest, errorBody("invalid user JSON"))
			return
		}
		if strings.TrimSpace(u.Name) == "" {
			writeJSON(w, http.StatusBadRequest, errorBody("name is required"))
			return
		}
		a.mu.Lock()
		u.ID = len(a.users) + 1
		if u.Orders == nil {
			u.Orders = []Order{}
		}
		a.users = append(a.users, u)
		a.mu.Unlock()
		writeJSON(w, http.StatusCreated, u)
	}))
	mux.HandleFunc("GET /admin/stats", a.count(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		hits := make(map[string]int, len(a.hits))
		for k, v := range a.hits {
			hits[k] = v
		}
		writeJSON(w, http.StatusOK, map[string]any{"users": len(a.users), "hits": hits,
			"internal": map[string]any{"db_dsn": "postgres://demo:demo@db.internal/users", "build": "demo"}})
	}))
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		names := make([]string, 0, len(r.Header))
		for k := range r.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		headers := make(map[string]string, len(names))
		for _, k := range names {
			headers[strings.ToLower(k)] = strings.Join(r.Header.Values(k), ", ")
		}
		writeJSON(w, http.StatusOK, map[string]any{"method": r.Method, "path": r.URL.RequestURI(), "host": r.Host, "headers": headers})
	})
	return mux
}

// count records a hit per route pattern for /admin/stats.
func (a *API) count(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.hits[r.Pattern]++
		a.mu.Unlock()
		h(w, r)
	}
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "demoapi: encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
