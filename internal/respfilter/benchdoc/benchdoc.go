// Package benchdoc generates the JSON documents the response filter is
// benchmarked on, so the native benchmarks and the wasip1 benchmark program
// measure the same input.
package benchdoc

import "strconv"

// Allow is the allowlist the benchmarks use on Generate's documents: about
// half of every record survives, at several depths.
var Allow = []string{
	"data.#.id", "data.#.name", "data.#.address.city", "data.#.orders.#.id",
	"data.#.orders.#.total", "data.#.tags", "meta.*",
}

// Generate returns a user-list API response of about size bytes (at least
// one record): records with sensitive fields (password hash, card number,
// internal flags), nested objects, arrays of objects, escapes and non-ASCII
// text, big integers and exponents. The output is deterministic.
func Generate(size int) []byte {
	b := make([]byte, 0, size+512)
	b = append(b, `{"meta":{"page":1,"total":123456789012345678901,"generated":"2026-11-28T18:00:00Z"},"data":[`...)
	for i := 0; ; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecord(b, i)
		if len(b) >= size-2 {
			break
		}
	}
	return append(b, "]}"...)
}

func appendRecord(b []byte, i int) []byte {
	n := strconv.Itoa(i)
	b = append(b, `{"id":`...)
	b = append(b, n...)
	b = append(b, `,"name":"User `...)
	b = append(b, n...)
	b = append(b, ` Müller \"quoted\"","email":"user`...)
	b = append(b, n...)
	b = append(b, `@example.com","password_hash":"$2b$12$abcdefghijklmnopqrstuvwx\/yz0123456789ABCDEFGHIJKLMN",`...)
	b = append(b, `"card_number":"4111111111111111","internal":{"flags":["beta","vip"],"score":-0.0e+0,"notes":"\u00e9l\u00e8ve"},`...)
	b = append(b, `"address":{"street":"1 Main St","city":"Zürich","zip":"8000","geo":{"lat":47.3769,"lng":8.5417}},`...)
	b = append(b, `"orders":[{"id":1`...)
	b = append(b, n...)
	b = append(b, `,"total":1.5e2,"items":[{"sku":"A-1","qty":2}],"secret":true},{"id":2`...)
	b = append(b, n...)
	b = append(b, `,"total":99.99,"items":[],"secret":false}],"tags":["a","b","c"]}`...)
	return b
}
