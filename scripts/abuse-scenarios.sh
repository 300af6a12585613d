#!/bin/sh
# The four attacks of issue 11, re-run through `make run`'s gateway
# (internal/devproxy) with 4 worker VMs in front of a small upstream:
#   1. memory amplification: a mask rule with a 1,000-character mask_value in
#      front of an 896 KiB [0,0,...] body (under the host's 1 MiB buffer
#      limit, so the plugin filters it), 8 at once, twice; the gateway's resident
#      memory before and after (the issue saw 110 MB grow to 3.1 GB);
#   2. a full shared table: max_keys 8, header:x-k; a key at its limit stays
#      limited after 40 other keys, and a new key gets exactly its quota;
#   3. a byte budget of 10,000 bytes per hour with 5 KB responses, 60 requests
#      in parallel: the bytes delivered stay within twice the budget;
#   4. the audit trail: card numbers, emails and the key-hash salt in form
#      and JSON bodies, paths and headers appear in no line of the gateway's
#      output (banner, access log, audit events).
# Prints one line per check and exits non-zero if any fails.
#
#   sh scripts/abuse-scenarios.sh
#
# Needs curl and python3 (the upstream). Ports: 18080 upstream, 18000
# gateway, 18901 admin (override with UP_PORT, GW_PORT, ADMIN_PORT).
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
UP_PORT=${UP_PORT:-18080}
GW_PORT=${GW_PORT:-18000}
ADMIN_PORT=${ADMIN_PORT:-18901}
out=build/abuse
rm -rf "$out"
mkdir -p "$out"
fail=0
check() { # check NAME CONDITION-TEXT OK(0/1)
	if [ "$3" = 0 ]; then echo "ok   $1: $2"; else echo "FAIL $1: $2"; fail=1; fi
}

SALT=salt-9f2c4e1d7a6b
CARD=4111111111111111
CARD2=4012888888881881
EMAIL=alice@example.com
MASK=$(python3 -c 'print("m"*1000)')
cat > "$out/config.json" <<EOF
{
  "response_filter": {"rules": [{"match": {"prefix": "/zeros"}, "allow": ["id"], "mode": "mask", "mask_value": "$MASK"},
                                {"match": {"prefix": "/pii"}, "allow": ["id"]}],
                      "max_body_bytes": 2097152, "on_error": "deny"},
  "rate_limits": [
    {"name": "tbl", "match": {"prefix": "/tbl"}, "key": ["header:x-k"], "max_keys": 8, "limits": [{"requests": 2, "per": "60s"}]},
    {"name": "bytes", "match": {"prefix": "/five"}, "cost": "response_bytes", "key": ["client_ip"], "limits": [{"requests": 10000, "per": "3600s"}]}
  ],
  "telemetry": {"audit": {"sink": "log", "body_excerpt_bytes": 4096, "key_hash_salt": "$SALT", "headers": ["user-agent", "x-note"]}}
}
EOF

cat > "$out/upstream.py" <<'EOF'
import http.server, json, sys
ZEROS = ("[" + "0," * (448 * 1024 - 1) + "0]").encode()  # 896 KiB: under the host's 1 MiB buffer limit
FIVE = json.dumps({"id": 1, "data": "x" * 4970}).encode()
PII = json.dumps({"id": 7, "email": "alice@example.com", "card": "4111111111111111",
                  "note": "my card is 4012888888881881"}).encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            self.rfile.read(n)
        body = ZEROS if self.path.startswith("/zeros") else FIVE if self.path.startswith("/five") else PII if self.path.startswith("/pii") else b'{"ok":true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = answer
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF

$GO run ./internal/sdkabi/cmd/wasmbuild -o build/apiguard.wasm ./plugin
$GO build -o "$out/devproxy" ./internal/devproxy
python3 "$out/upstream.py" "$UP_PORT" &
up=$!
"$out/devproxy" --wasm build/apiguard.wasm --config "$out/config.json" --workers 4 \
	--listen "127.0.0.1:$GW_PORT" --admin "127.0.0.1:$ADMIN_PORT" --upstream "http://127.0.0.1:$UP_PORT" \
	> "$out/gateway.log" 2>&1 &
gw=$!
trap 'kill $gw $up 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
	curl -fsS "http://127.0.0.1:$ADMIN_PORT/ready" >/dev/null 2>&1 && break
	sleep 0.3
done
gwurl="http://127.0.0.1:$GW_PORT"
rss() { awk '/VmRSS/ {print $2}' "/proc/$gw/status"; }

# 1. Memory amplification.
rss0=$(rss)
codes=$(for r in 1 2; do for i in 1 2 3 4 5 6 7 8; do curl -s -o "$out/zeros.$r.$i" -w '%{http_code} ' "$gwurl/zeros" & done; wait; done)
rss1=$(rss)
maxsize=$(wc -c "$out"/zeros.* | awk '$2 != "total" {if ($1 > m) m = $1} END {print m+0}')
check memory "16 masked 896 KiB bodies: answers $codes; largest response $maxsize bytes; gateway RSS ${rss0} KiB -> ${rss1} KiB" \
	"$( [ "$maxsize" -le 2097152 ] && [ "$rss1" -lt $((rss0 + 600000)) ] && echo 0 || echo 1)"

# 2. A full shared table still limits.
lim=$(for i in 1 2 3; do curl -s -o /dev/null -w '%{http_code} ' -H 'x-k: victim' "$gwurl/tbl"; done)
for i in $(seq 1 40); do curl -s -o /dev/null -H "x-k: filler-$i" "$gwurl/tbl"; done
after=$(curl -s -o /dev/null -w '%{http_code}' -H 'x-k: victim' "$gwurl/tbl")
new=$(for i in $(seq 1 10); do curl -s -o /dev/null -w '%{http_code}\n' -H 'x-k: newcomer' "$gwurl/tbl"; done | grep -c '^200$' || true)
check table "victim $lim then $after after 40 other keys; a new key: $new of 10 admitted (quota 2)" \
	"$( [ "$after" = 429 ] && [ "$new" = 2 ] && echo 0 || echo 1)"

# 3. A byte budget under 60 parallel requests.
pids=
for i in $(seq 1 60); do
	curl -s -o "$out/five.$i" -w '%{http_code}\n' "$gwurl/five" > "$out/five.$i.code" &
	pids="$pids $!"
done
wait $pids # not the gateway's nor the upstream's
admitted=$(cat "$out"/five.*.code | grep -c '^200$' || true)
delivered=0
for i in $(seq 1 60); do
	if [ "$(cat "$out/five.$i.code")" = 200 ]; then delivered=$((delivered + $(wc -c < "$out/five.$i"))); fi
done
check budget "60 parallel requests against 10,000 bytes/hour: $admitted admitted, $delivered bytes delivered (bound 20,000)" \
	"$( [ "$admitted" -ge 1 ] && [ "$delivered" -le 20000 ] && echo 0 || echo 1)"

# 4. No card number, email or salt in any line the gateway wrote.
curl -s -o /dev/null -X POST -H 'content-type: application/x-www-form-urlencoded' -H "user-agent: card $CARD" \
	--data "card=$CARD&email=$EMAIL&cvv2=123&otp=987654" "$gwurl/pii/form?email=$EMAIL"
curl -s -o /dev/null -X POST -H 'content-type: application/json' -H "x-note: $EMAIL" \
	--data "{\"note\":\"my card is $CARD2\",\"cards\":{\"$CARD\":{\"cvv\":\"123\"}},\"users\":{\"$EMAIL\":{\"ssn\":\"078-05-1120\"}}}" "$gwurl/pii/users/$EMAIL"
curl -s -o /dev/null "$gwurl/pii/$CARD"
sleep 1
leaks=$(grep -c -e "$CARD" -e "$CARD2" -e "$EMAIL" -e "$SALT" -e "4111 1111" "$out/gateway.log" || true)
lines=$(wc -l < "$out/gateway.log")
check audit "$lines lines of gateway output (banner, access log, audit events): $leaks hold a card number, an email or the salt" \
	"$( [ "$leaks" = 0 ] && [ "$lines" -gt 5 ] && echo 0 || echo 1)"
exit $fail
