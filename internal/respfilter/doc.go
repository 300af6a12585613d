// Package respfilter is apiguard's response field allowlist: a deny-by-default
// filter over JSON response bodies that fails closed (OWASP API3, excessive
// data exposure). It is pure Go; the plugin calls it from its response
// callbacks.
//
// # Path syntax
//
// An allow path names fields of a JSON document, one segment per level,
// separated by dots:
//
//	id               the top-level member "id"
//	user.address.zip nested members
//	items.#.id       "id" in every element of the array "items"
//	#.id             "id" in every element of a top-level array
//	meta.*           every member of the object "meta"
//	meta.*.name      "name" inside every member of "meta"
//
// "*" stands for any member name of an object and "#" for any element of an
// array; each must be a whole segment, and neither matches the other kind of
// container. A backslash escapes the next character so that keys containing
// the syntax characters are matched literally: `\.` is a dot inside a key,
// `\*` and `\#` are the literal characters, and `\\` is a backslash (in JSON
// config text each backslash is itself written `\\`, e.g. "a\\.b"). Any other
// escape, an empty segment, or a bare "*" or "#" inside a longer segment is a
// configuration error, so a typo never becomes a silently different path.
// Keys are compared after JSON unescaping: "na\u006de" in a document is the
// key "name". Reported removed paths use the same syntax.
//
// # What survives
//
// A path that ends on a value keeps that value whole, byte for byte (an
// object keeps its subtree). Every value on the way to it is kept only as a
// container: its other members are removed, and an ancestor that turns out
// not to be an object or array is removed too. Everything else is removed
// (mode "remove") or replaced by the mask value (mode "mask", which keeps keys
// and array lengths). Duplicate keys are each judged by the same path. Key
// order, number spelling and string escapes of kept values are preserved,
// because the output is assembled from spans of the input's raw bytes;
// whitespace between kept values is dropped. A document that is itself a
// scalar is not reachable by any path and becomes null (or the mask value).
//
// One pass reads each byte once: it validates, tracks the depth, decides and
// copies, decoding only member keys that hold escapes. Nesting deeper than
// max_depth (reason depth) and invalid JSON (reason malformed, gjson's
// notion of valid) are failures, and a failure anywhere produces no output;
// a document both too deep and malformed fails as depth.
//
// # Content types
//
// A filtered route never lets JSON through because of its Content-Type.
// application/json, text/json and any +json type are filtered as JSON, and
// must be valid JSON. Under any other type, or none, a body whose first
// non-whitespace byte (after an optional UTF-8 BOM) is '{' or '[' is filtered
// as JSON too, and fails as malformed if it is not valid JSON; so is a body
// that is, as a whole, a valid JSON scalar ("secret", 42), which becomes null.
// Other bodies are "not JSON" and follow non_json: "deny" (default: refused
// like a failure, reason not_json, whatever on_error says) or "allow" (sent
// unchanged and counted). Empty bodies are left alone.
//
// # Compression
//
// gzip (and x-gzip) and deflate (zlib, or the raw DEFLATE some servers send)
// are decompressed with the standard library, bounded by max_body_bytes so a
// decompression bomb stops early (reason too_large), then filtered and
// recompressed the same way at BestSpeed. Any other Content-Encoding (br,
// zstd, stacked codings) is an unsupported_encoding failure at headers time.
// To keep those rare, the plugin also rewrites the request's Accept-Encoding
// on filtered routes with UpstreamAcceptEncoding, so upstreams only choose
// codings apiguard can decode, and drops Range (RequestHeadersToRemove) so
// upstreams send whole documents.
//
// # Envoy's two header modes
//
// With headers_mode "held" (Envoy's allow_on_headers_stop_iteration: true),
// the plugin pauses the response headers, buffers the body, and can still
// change the status: a failure becomes DenyReply, a 502 with a small JSON
// error, and a filtered body gets a correct content-length.
//
// With headers_mode "streamed" (Istio's WasmPlugin without an EnvoyFilter
// patch), the headers leave before the body is seen. DecideHeaders settles
// all that headers show (encoding, declared length over the limit) so those
// failures are still a 502; the length, digests and etag are removed
// (Stream, responseHeadersToRemove) before the headers leave. A failure that shows
// only in the body (malformed JSON, a size over the limit without a declared
// length) replaces the body with ErrorDocument under the status already
// sent. This is weaker: a client that trusts the status alone sees success.
//
// # Use from the plugin
//
//	request headers:  p := f.Match(req); if p != nil, set Accept-Encoding to
//	                  UpstreamAcceptEncoding(ae) and remove RequestHeadersToRemove().
//	response headers: skip if apiguard answered the stream itself (401/403/429/502);
//	                  d := p.DecideHeaders(meta).
//	                  ActionFilter: buffer up to p.MaxBodyBytes() (streamed: remove
//	                  the length, digests and etag first). ActionDeny: DenyReply(d.Reason).
//	                  ActionPass: count d.Reason. ActionSkip: nothing.
//	response body:    at end of stream, out, o := p.Process(d, body, claims).
//	                  ActionReplace: the body becomes out (held: remove
//	                  the length, digests and etag, set content-length). ActionDeny:
//	                  held: DenyReply(o.Reason); streamed: ErrorDocument(d, o.Reason).
//	                  Count o.Action, o.Reason, o.Removed and o.Masked, and put
//	                  o.RemovedPaths (never values) in the audit event.
//
// A body that grows past MaxBodyBytes before end of stream is a failure
// without waiting for the rest: p.Failure(ReasonTooLarge, insp).
package respfilter
