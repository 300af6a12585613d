package inventory

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
)

// evasions are response values a client reads as a sensitive value, written
// so that a byte-wise check would miss them (issue 14's attacker review).
var evasions = []struct {
	name, json, class string
}{
	{"card as a float", `4111111111111111.0`, "card_number"},
	{"card negated", `-4111111111111111`, "card_number"},
	{"card in exponent form", `4.111111111111111e15`, "card_number"},
	{"card in a 5-byte exponent form", `42e14`, "card_number"},
	{"card in a 6-byte exponent form", `4.2e15`, "card_number"},
	{"card in a 6-byte negated exponent form", `-42E14`, "card_number"},
	{"card in exponent form past 1 KiB", `0.` + strings.Repeat("0", 2000) + `4111111111111111e2016`, "card_number"},
	{"card with 2 KiB of fraction zeros and an exponent", `4.111111111111111` + strings.Repeat("0", 2000) + `e15`, "card_number"},
	{"card after a zero-width space", `"\u200b4111111111111111"`, "card_number"},
	{"card with a raw zero-width space inside", "\"4111\u200b1111 1111 1111\"", "card_number"},
	{"card with escaped joiners inside", `"4111\u200d1111\u2060111111\u00ad11"`, "card_number"},
	{"card after 2 KiB of spaces", `"` + strings.Repeat(" ", 2048) + `4111111111111111"`, "card_number"},
	{"card after 1 KiB of escaped zero-width spaces", `"` + strings.Repeat(`\u200b`, 1024) + `4111111111111111"`, "card_number"},
	{"card after escaped newlines", `"` + strings.Repeat(`\n`, 1500) + `4111111111111111"`, "card_number"},
	{"key after 4 KiB of tabs", `"` + strings.Repeat(`\t`, 4096) + `-----BEGIN PRIVATE KEY-----\nMIIE"`, "private_key"},
	{"lower-case IBAN", `"de89370400440532013000"`, "iban"},
	{"IBAN in escapes", `"\u0044\u0045\u0038\u0039370400440532013000"`, "iban"},
	{"card split by an escaped surrogate pair (U+E0020 TAG SPACE)", `"4111\udb40\udc20111111111111"`, "card_number"},
	{"card split by an escaped surrogate pair (U+1D173)", `"4111\ud834\udd73111111111111"`, "card_number"},
	{"card after 1 KiB of escaped tag spaces", `"` + strings.Repeat(`\udb40\udc20`, 200) + `4111111111111111"`, "card_number"},
	{"IBAN, escapes and no-break spaces", `"DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000"`, "iban"},
	{"card in full-width digits", "\"４１１１１１１１１１１１１１１１\"", "card_number"},
	{"card in escaped full-width digits", `"\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11"`, "card_number"},
	{"card in Arabic-Indic digits", "\"٤١١١١١١١١١١١١١١١\"", "card_number"},
	{"card in escaped Devanagari digits", `"\u096a\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967"`, "card_number"},
	{"card in mathematical bold digits, escaped as surrogate pairs", `"\ud835\udfd2` + strings.Repeat(`\ud835\udfcf`, 15) + `"`, "card_number"},
	{"card mixing digits of four scripts", "\"４١١١1111११११١١١١\"", "card_number"},
	{"SSN in full-width digits", "\"０７８-０５-１１２０\"", "ssn"},
	{"IBAN with Devanagari digits", "\"DE८९३७०४००४४०५३२०१३०००\"", "iban"},
	{"card grouped by dots", `"4111.1111.1111.1111"`, "card_number"},
	{"card grouped by escaped tabs", `"4111\t1111\t1111\t1111"`, "card_number"},
	{"card grouped by slashes and underscores", `"4111/1111_1111/1111"`, "card_number"},
	{"card grouped by escaped narrow no-break and thin spaces", `"4111\u202f1111\u20091111\u202f1111"`, "card_number"},
	{"card grouped by mixed separators", `"3782-822463.10005"`, "card_number"},
	// Longer than the classified 1 KiB (the attacker review of the
	// performance round, F1): invisible characters do not count toward
	// it, a JWT is one whole, and a long value's end is classified too.
	{"card with 80 zero-width spaces between its digits", `"` + spread("4111111111111111", strings.Repeat("\u200b", 80)) + `"`, "card_number"},
	{"card with 80 escaped zero-width spaces between its digits", `"` + spread("4111111111111111", strings.Repeat(`\u200b`, 80)) + `"`, "card_number"},
	{"SSN with 100 word joiners between its characters", `"` + spread("078-05-1120", strings.Repeat("\u2060", 100)) + `"`, "ssn"},
	{"JWT whose header is over 1 KiB", `"eyJ` + strings.Repeat("A", 1200) + `.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl"`, "jwt"},
	{"JWT whose header is over 1 KiB, then spaces", `"eyJ` + strings.Repeat("A", 3000) + `.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl` + strings.Repeat(" ", 1500) + `"`, "jwt"},
	{"JWT whose header is over 1 KiB, with escaped invisible characters", `"eyJ` + strings.Repeat(`AAAAAAAAAA\u200d`, 150) + `.eyJzdWIiOiJhbGljZSJ9.c2ln"`, "jwt"},
	{"email after a 1.2 KiB display name", `"` + strings.Repeat("Alice ", 200) + `<alice@example.com>"`, "email"},
	{"email after a 1.2 KiB display name, escaped", `"` + strings.Repeat("Alice ", 200) + `\u003calice@example.com\u003e"`, "email"},
	// Look-alike separators and invisible control characters (the third
	// attacker review of issue 14, NEW-1 and NEW-2).
	{"card grouped by full-width full stops", "\"4111\uff0e1111\uff0e1111\uff0e1111\"", "card_number"},
	{"card grouped by escaped one dot leaders", `"4111\u20241111\u20241111\u20241111"`, "card_number"},
	{"card grouped by middle dots and Greek ano teleia", "\"4111\u00b71111\u03871111\u00b71111\"", "card_number"},
	{"card grouped by division slashes", "\"4111\u22151111\u22151111\u22151111\"", "card_number"},
	{"card grouped by full-width low lines", `"4111\uff3f1111\uff3f1111\uff3f1111"`, "card_number"},
	{"card grouped by hyphen bullets", "\"4111\u20431111\u20431111\u20431111\"", "card_number"},
	{"SSN grouped by modifier letter minus signs", "\"078\u02d705\u02d71120\"", "ssn"},
	{"SSN grouped by small full stops", `"078\ufe5205\ufe521120"`, "ssn"},
	{"card with escaped NULs between its digits", `"` + spread("4111111111111111", `\u0000`) + `"`, "card_number"},
	{"card with escaped backspaces between its digits", `"` + spread("4111111111111111", `\b`) + `"`, "card_number"},
	{"card with raw DELs between its digits", `"` + spread("4111111111111111", "\x7f") + `"`, "card_number"},
	{"card between escaped ESCs", `"\u001b4111 1111 1111 1111\u001b"`, "card_number"},
	{"card between raw C1 CSIs", "\"\u009b4111 1111 1111 1111\u009b\"", "card_number"},
	{"card with 80 escaped SOHs between its digits", `"` + spread("4111111111111111", strings.Repeat(`\u0001`, 80)) + `"`, "card_number"},
	{"email with a raw DEL before its @", "\"alice\x7f@example.com\"", "email"},
	{"key past 1 KiB, an escaped backspace in its header", `"-----BEGIN CERTIFICATE-----\n` + strings.Repeat(`MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n`, 20) +
		`-----END CERTIFICATE-----\n-----BEGIN\b RSA PRIVATE KEY-----\n` + strings.Repeat(`MIIEowIBAAKCAQEAwJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYabcdefghij\n`, 25) + `"`, "private_key"},
	{"key past 1 KiB, an escaped backspace among its dashes", `"` + strings.Repeat(`x`, 1500) + `\n--\b---BEGIN PRIVATE KEY-----\n` + strings.Repeat(`y`, 1500) + `"`, "private_key"},
	{"card grouped by full-width plus signs", "\"4111\uff0b1111\uff0b1111\uff0b1111\"", "card_number"},
	{"card with negative circled zeros", `"51\u24ff51\u24ff51\u24ff51\u24ff51\u24ff\u24ff"`, "card_number"},
	{"SSN grouped by Braille blanks", "\"078\u280005\u28001120\"", "ssn"},
	{"email with a full-width at sign", `"john.doe\uff20example.com"`, "email"},
	{"IBAN with mathematical bold letters", `"\ud835\udc03\ud835\udc0489370400440532013000"`, "iban"},
	{"key header in full-width letters", "\"-----\uff22\uff25\uff27\uff29\uff2e RSA PRIVATE KEY-----\\nMIIE\"", "private_key"},
	{"card grouped by reserved default-ignorables", `"4111\u20651111\ufff01111\udb40\udc801111"`, "card_number"},
	{"card grouped by dashed box-drawing lines", "\"4111\u25041111\u254c1111\u23ba1111\"", "card_number"},
	{"card in superscript digits", "\"\u2074\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\"", "card_number"},
	{"card in escaped circled digits", `"\u2463\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460"`, "card_number"},
	{"card underlined by escaped combining low lines", `"` + spread("4111111111111111", `\u0332`) + `\u0332"`, "card_number"},
	{"card as keycaps", `"` + spread("4111111111111111", "\ufe0f\u20e3") + `\ufe0f\u20e3"`, "card_number"},
	{"email after a 1.2 KiB display name, then 2 KiB of spaces", `"` + strings.Repeat("Alice ", 200) + `<alice@example.com>` + strings.Repeat("\u2003", 700) + `"`, "email"},
}

// spread is s with sep between each of its characters.
func spread(s, sep string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// notSensitive are values that look close to one but are not: none may be
// classified.
var notSensitive = []string{
	`1700000000000`, `1700000000.123`, `0.4111111111111111`, `4.111111111111111`, `12345.678`,
	`"ORD-2024-000123"`, `"2024-11-02T10:11:12.123456Z"`, `"\u200b"`, `"` + strings.Repeat(" ", 2048) + `hello"`,
	`"de89370400440532013001"`, `-0.0e+1`, `1e400`, `"4111\ud834111111111111"`, `4556000000000058.5` + strings.Repeat("0", 1100), `"4111\udc20\udb40111111111111"`,
	"\"４１１１１１１１１１１１１１１２\"", "\"٢٠٢٤-١١-٠٢\"",
	`"10.4111.1111.1111.1111"`, `"411.111.111.111.111.1"`, `"192.168.100.200"`, `"2024.11.02"`, `"1.20.3"`,
	`"4111111111111111 ` + strings.Repeat("x", 2000) + `"`, `"` + strings.Repeat("x", 2000) + ` 4111111111111111"`, `"eyJ` + strings.Repeat("A", 2000) + `"`,
	`"eyJ` + strings.Repeat("A", 1200) + `.eyJzdWIiOiJhbGljZSJ9.c2ln and more"`, `"eyJ` + strings.Repeat("A", 1200) + `.eyJzdWIiOiJhbGljZSJ9.c2ln.x.y.z"`,
	"\"192\uff0e168\uff0e100\uff0e200\"", "\"2024\u00b711\u00b702\"", `"10\u22154111\u22151111\u22151111\u22151111"`, `"\u0000\u0007\u007f"`, "\"H\u2082O x\u00b2\"", `"490154203237518"`, `490154203237518`, `"4901234567894"`, `"100004567890125"`, `100004567890125`, `"302-1234567-1234565"`, `"Bearer Authentication"`,
	`"` + strings.Repeat("Alice ", 200) + `<alice>"`,
	`"` + strings.Repeat("x", 2000) + ` alice@example.com and more"`,
}

// TestEvasionsAreClassifiedInBothPasses runs each evasion through the
// Observer (unfiltered routes, whole and byte by byte) and the Inspector
// (the filter's pass): both find its class; the look-alikes stay
// unclassified.
func TestEvasionsAreClassifiedInBothPasses(t *testing.T) {
	c := testClassifier(t)
	list := respfilterAllowAll(t)
	for _, e := range evasions {
		doc := `{"v":` + e.json + `}`
		for _, chunk := range []int{len(doc), 1} {
			r := NewResponse(c)
			o := NewObserver(r)
			for i := 0; i < len(doc); i += chunk {
				o.Write([]byte(doc[i:min(i+chunk, len(doc))]))
			}
			o.Close()
			if r.Values[c.Index(e.class)] != 1 {
				t.Errorf("%s: Observer (chunks of %d): %s", e.name, chunk, describe(r))
			}
		}
		r := NewResponse(c)
		if _, o := list.AppendProcessInspected(nil, decideJSON(list), []byte(doc), nil, r); r.Values[c.Index(e.class)] != 1 {
			t.Errorf("%s: Inspector: %s (%v)", e.name, describe(r), o.Action)
		}
	}
	for _, v := range notSensitive {
		doc := `{"v":` + v + `}`
		r := observe(t, c, doc)
		ri := NewResponse(c)
		list.AppendProcessInspected(nil, decideJSON(list), []byte(doc), nil, ri)
		if r.Found != 0 || ri.Found != 0 {
			t.Errorf("%s: classified: %s / %s", v, describe(r), describe(ri))
		}
	}
}

// TestShortExponentNumbersAfterShortOnes: a number shorter than any
// string of a class, but written with an exponent, reads as a card number
// to a client (42e14 is 4200000000000000 to JSON.parse): it is masked in
// the filter's pass at a site that first saw short plain numbers (which
// the filter stops showing the Inspector: InspectQuiet), and counted by
// the Observer.
func TestShortExponentNumbersAfterShortOnes(t *testing.T) {
	c, err := NewClassifier(map[string]Policy{"card_number": Mask}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := respfilter.New(respfilter.Config{Rules: []respfilter.Rule{{Allow: respfilter.Paths("items.#.v", "arr", "v")}}})
	if err != nil {
		t.Fatal(err)
	}
	byName := f.Match(&route.Request{Method: "GET", Path: "/"})
	card := c.Index("card_number")
	for _, num := range []string{"42e14", "4.2e15", "-42E14", "42E+14"} {
		for _, tc := range []struct{ doc, want string }{
			{`{"v":` + num + `}`, `{"v":"*********"}`},
			{`{"items":[{"v":1},{"v":12},{"v":` + num + `}]}`, `{"items":[{"v":1},{"v":12},{"v":"*********"}]}`},
			{`{"arr":[1,2,` + num + `]}`, `{"arr":[1,2,"*********"]}`},
			{`{"arr":[1,[2,3,` + num + `]]}`, `{"arr":[1,[2,3,"*********"]]}`},
			{`{"v":1,"v":` + num + `}`, `{"v":1,"v":"*********"}`},
		} {
			for _, p := range []*respfilter.Policy{respfilterAllowAll(t), byName} {
				r := NewResponse(c)
				out, _ := p.AppendProcessInspected(nil, decideJSON(p), []byte(tc.doc), nil, r)
				if string(out) != tc.want || r.Values[card] != 1 {
					t.Errorf("%s: Inspector: %s; %s", tc.doc, out, describe(r))
				}
			}
			if r := observe(t, c, tc.doc); r.Values[card] != 1 {
				t.Errorf("%s: Observer: %s", tc.doc, describe(r))
			}
		}
	}
}

// respfilterAllowAll is a response filter policy that keeps every field.
func respfilterAllowAll(t testing.TB) *respfilter.Policy {
	t.Helper()
	f, err := respfilter.New(respfilter.Config{Rules: []respfilter.Rule{{Name: "all", Allow: respfilter.Paths("*")}}})
	if err != nil {
		t.Fatal(err)
	}
	return f.Match(&route.Request{Method: "GET", Path: "/"})
}

func decideJSON(p *respfilter.Policy) respfilter.Decision {
	return p.DecideHeaders(respfilter.ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json"})
}

// FuzzNumberShortForm checks the Observer's bounded form of a number
// against the number's text: a card number to one is a card number to the
// other.
func FuzzNumberShortForm(f *testing.F) {
	for _, s := range []string{"4111111111111111", "-4.111111111111111e15", "4556000000000058.5" + strings.Repeat("0", 40) + "1", "4111111111111110.99999", "0.00041111111111111111e19", "1700000000.5", "0", "5555555555554444.5e0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, num string) {
		if !json.Valid([]byte(num)) || num == "" || strings.TrimSpace(num) != num || (num[0] != '-' && (num[0] < '0' || num[0] > '9')) {
			return
		}
		var n numberState
		for i := 0; i < len(num); i++ {
			n.add(num[i])
		}
		short := string(n.appendText(nil))
		_, want := detect.ClassifyNumber(num, detect.All)
		if _, got := detect.ClassifyNumber(short, detect.All); got != want {
			t.Fatalf("%s: card %v; short form %s: card %v", num, want, short, got)
		}
	})
}

// TestValueCutInsideACharacterIsClassified: the classified first KiB of a
// long value may end inside a character or an escape (a card, then
// hundreds of invisible characters or spaces, written plain or escaped);
// the cut goes back to the last whole one, so the value is still
// classified, in both passes, at every offset of the cut.
func TestValueCutInsideACharacterIsClassified(t *testing.T) {
	c := testClassifier(t)
	list := respfilterAllowAll(t)
	card := c.Index("card_number")
	for _, pad := range []string{"\u200b", `\u200b`, "\u2003", `\u2003`, "\U000E0020", `\udb40\udc20`} {
		for shift := range 12 {
			doc := `{"c":"4111111111111111` + strings.Repeat(" ", 1+shift) + strings.Repeat(pad, 2000/len(pad)) + `"}`
			for _, chunk := range []int{len(doc), 7} {
				r := NewResponse(c)
				o := NewObserver(r)
				for i := 0; i < len(doc); i += chunk {
					o.Write([]byte(doc[i:min(i+chunk, len(doc))]))
				}
				o.Close()
				if r.Values[card] != 1 {
					t.Errorf("padding %q, shift %d: Observer (chunks of %d): %s", pad, shift, chunk, describe(r))
				}
			}
			r := NewResponse(c)
			if list.AppendProcessInspected(nil, decideJSON(list), []byte(doc), nil, r); r.Values[card] != 1 {
				t.Errorf("padding %q, shift %d: Inspector: %s", pad, shift, describe(r))
			}
		}
	}
}

// TestNumbersRoundingToACardAreClassified: a number JSON.parse rounds to
// a card number is one in both passes and in the text of an unjudged body,
// however long its fraction.
func TestNumbersRoundingToACardAreClassified(t *testing.T) {
	c := testClassifier(t)
	list := respfilterAllowAll(t)
	card := c.Index("card_number")
	for _, num := range []string{"4111111111111110.99999", "4.1111111111111109999e15", "4111111111111110.75",
		"4111111111111110." + strings.Repeat("9", 2000),
		// Past the halfway point only 1 KiB on: 4556000000000059.
		"4556000000000058.5" + strings.Repeat("0", 1100) + "1"} {
		doc := `{"v":` + num + `}`
		if r := observe(t, c, doc); r.Values[card] != 1 {
			t.Errorf("%.40s: Observer: %s", num, describe(r))
		}
		r := NewResponse(c)
		if list.AppendProcessInspected(nil, decideJSON(list), []byte(doc), nil, r); r.Values[card] != 1 {
			t.Errorf("%.40s: Inspector: %s", num, describe(r))
		}
		if !detect.Contains("text "+num+" text", detect.All) {
			t.Errorf("%.40s: not found in text", num)
		}
	}
}

// TestPrivateKeyPastTheClassifiedPart: a key after a certificate longer
// than the classified first KiB, written plain or with its header
// escaped, is found in the filter's pass, which holds the whole value;
// a key after a short label is found in both passes.
func TestPrivateKeyPastTheClassifiedPart(t *testing.T) {
	c := testClassifier(t)
	list := respfilterAllowAll(t)
	key := c.Index("private_key")
	cert := `-----BEGIN CERTIFICATE-----\n` + strings.Repeat(`MIIBszCCAVmgAwIBAgIUQ\n`, 80) + `-----END CERTIFICATE-----\n`
	for _, v := range []string{
		cert + `-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n`,
		cert + `\u002d----BEGIN \u0050RIVATE KEY-----\nMHcCAQEE`,
		`my key:\n-----BEGIN PRIVATE KEY-----\nMHcCAQEE`,
	} {
		doc := `{"pem":"` + v + `"}`
		r := NewResponse(c)
		if list.AppendProcessInspected(nil, decideJSON(list), []byte(doc), nil, r); r.Values[key] != 1 {
			t.Errorf("%.60s: Inspector: %s", v, describe(r))
		}
	}
	doc := `{"pem":"` + cert + `"}`
	r := NewResponse(c)
	if list.AppendProcessInspected(nil, decideJSON(list), []byte(doc), nil, r); r.Found != 0 {
		t.Errorf("a certificate: %s", describe(r))
	}
	if r := observe(t, c, `{"pem":"my key:\n-----BEGIN PRIVATE KEY-----\nMHcCAQEE"}`); r.Values[key] != 1 {
		t.Errorf("after a label: Observer: %s", describe(r))
	}
}

// TestObserverFindsAPrivateKeyPastTheClassifiedPart: the Observer, which
// keeps only a string's first KiB, finds a private key whose header comes
// after it (after a long certificate), written plain, escaped or with
// invisible characters inside, wherever the body is split into chunks
// around the header; it agrees with the filter's pass, which holds the
// whole value, on keys and on look-alikes.
func TestObserverFindsAPrivateKeyPastTheClassifiedPart(t *testing.T) {
	c := testClassifier(t)
	list := respfilterAllowAll(t)
	key := c.Index("private_key")
	cert := `-----BEGIN CERTIFICATE-----\n` + strings.Repeat(`MIIBszCCAVmgAwIBAgIUQ\n`, 80) + `-----END CERTIFICATE-----\n`
	for _, v := range []struct {
		header string
		want   bool
	}{
		{`-----BEGIN EC PRIVATE KEY-----`, true},
		{`-----BEGIN ENCRYPTED PRIVATE KEY-----`, true},
		{`\u002d----BEGIN \u0050RIVATE KEY-----`, true},
		{`--\u200b---BEGIN\u00a0OPENSSH PRIVATE KEY\u2060-----`, true},
		{`-----BEGIN \ud834\udd73PRIVATE KEY-----`, true}, // U+1D173 is invisible
		{`-----BEGIN PRIVATE KEY----`, true},              // four dashes read as the boundary (F6)
		{`----begin rsa private key----`, true},
		{`-----Begin \u0050rivate Key-----`, true},
		{`---BEGIN PRIVATE KEY---`, false},
		{`------BEGIN PRIVATE KEY-----`, false},
		{`-----BEGIN PUBLIC KEY-----`, false},
		{`-----BEGIN PRIVATE  KEY-----`, false},
	} {
		want := v.want
		doc := `{"pem":"` + cert + `x` + v.header + `\nMHcCAQEE\n"}`
		ri := NewResponse(c)
		list.AppendProcessInspected(nil, decideJSON(list), []byte(doc), nil, ri)
		if got := ri.Values[key] == 1; got != want {
			t.Errorf("%s: Inspector found %v, want %v", v.header, got, want)
		}
		at := strings.Index(doc, `x`+v.header) + 1
		for cut := at - 2; cut <= at+len(v.header)+2; cut++ {
			for _, chunks := range [][]string{{doc[:cut], doc[cut:]}, {doc[:min(at, cut)], doc[min(at, cut):cut], doc[cut:]}, {doc}} {
				r := NewResponse(c)
				o := NewObserver(r)
				for _, ch := range chunks {
					o.Write([]byte(ch))
				}
				o.Close()
				if got := r.Values[key] == 1; got != want {
					t.Fatalf("%s split at %d: Observer found %v, want %v: %s", v.header, cut-at, got, want, describe(r))
				}
			}
		}
	}
}

// FuzzKeySearch checks the Observer's streamed key search against the
// filter pass's: a string's raw JSON content, fed in three pieces split
// anywhere, holds a key header for keySearch exactly when its decoded
// whole does for detect.HoldsPrivateKey.
func FuzzKeySearch(f *testing.F) {
	for _, s := range []string{
		`cert\n-----BEGIN EC PRIVATE KEY-----\nMHc`, `\u002d----BEGIN \u0050RIVATE KEY-----`, `--\u200b---BEGIN\u00a0OPENSSH PRIVATE KEY\u2060-----`,
		`-----BEGIN \ud834\udd73PRIVATE KEY-----`, `------BEGIN PRIVATE KEY-----`, `\uzz-----BEGIN PRIVATE KEY-----`, `\ud834-----BEGIN PRIVATE KEY-----`,
	} {
		f.Add(s, uint16(5), uint16(12))
	}
	f.Fuzz(func(t *testing.T, raw string, a, b uint16) {
		i, j := int(a)%(len(raw)+1), int(b)%(len(raw)+1)
		if i > j {
			i, j = j, i
		}
		var k keySearch
		k.start([]byte(raw[:i]), true, nil)
		k.write([]byte(raw[i:j]))
		k.write([]byte(raw[j:]))
		got := k.end()
		if want := detect.HoldsPrivateKey(string(unescape(nil, []byte(raw)))); got != want {
			t.Fatalf("%q split at %d, %d: keySearch %v, HoldsPrivateKey of its decoded text %v", raw, i, j, got, want)
		}
	})
}
