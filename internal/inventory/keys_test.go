package inventory

import (
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/respfilter"
)

// TestSensitiveKeysAreClassified: an object key that is a sensitive value
// (a map keyed by card numbers or SSNs) is a value of its class: masked
// (the key replaced, the document still JSON) or denied in the filter's
// pass, and counted at its collapsed path ("*") in both passes.
func TestSensitiveKeysAreClassified(t *testing.T) {
	c, err := NewClassifier(map[string]Policy{"card_number": Mask, "ssn": Deny}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := respfilterAllowAll(t)
	r := NewResponse(c)
	doc := `{"by_card":{"4111111111111111":{"exp":"12/30"},"5555555555554444":{"exp":"01/31"}},"n":1}`
	out, o := p.AppendProcessInspected(nil, decideJSON(p), []byte(doc), nil, r)
	if o.Action != respfilter.ActionReplace || strings.Contains(string(out), "4111") || strings.Contains(string(out), "5555") ||
		string(out) != `{"by_card":{"*********":{"exp":"12/30"},"*********":{"exp":"01/31"}},"n":1}` {
		t.Errorf("masked keys: %v %s", o.Action, out)
	}
	if got := describe(r); !strings.Contains(got, "by_card.* object card_number") || r.Values[c.Index("card_number")] != 2 {
		t.Errorf("masked keys recorded:\n%s\nvalues %v", got, r.Values[:10])
	}
	r.Reset()
	if _, o := p.AppendProcessInspected(nil, decideJSON(p), []byte(`{"people":{"078-05-1120":1}}`), nil, r); o.Action != respfilter.ActionDeny || o.Reason != respfilter.ReasonSensitive {
		t.Errorf("denied key: %v %s", o.Action, o.Reason)
	}
	// Observed (unfiltered): counted and recorded at the collapsed path.
	r = observe(t, c, `{"people":{"078-05-1120":1,"alice@example.com":{"x":2}}}`)
	if got := describe(r); !strings.Contains(got, "people.* object|number email,ssn") ||
		r.Values[c.Index("ssn")] != 1 || r.Values[c.Index("email")] != 1 {
		t.Errorf("observed keys:\n%s\nvalues %v", got, r.Values[:10])
	}
	// Names stay names.
	r = observe(t, c, `{"created_at":1,"email":"x","user_id":2,"a":{"card_number":3}}`)
	if r.Found != 0 {
		t.Errorf("field names classified: %s", describe(r))
	}
}

// TestLongKeysAreClassifiedPastTheirPadding: a key padded past the
// Observer's 96-byte name bound (spaces, zero-width spaces, plain or
// escaped) is classified by what follows the padding, as a value is, and
// as the filter's pass classifies the whole key.
func TestLongKeysAreClassifiedPastTheirPadding(t *testing.T) {
	c, _ := NewClassifier(map[string]Policy{"card_number": Mask}, nil)
	p := respfilterAllowAll(t)
	for _, key := range []string{
		strings.Repeat(" ", 200) + "4111111111111111",
		strings.Repeat(`\u200b`, 300) + "4111111111111111",
		strings.Repeat("\t", 5) + strings.Repeat(`\n`, 2000) + "4111111111111111 ",
	} {
		doc := `{"m":{"` + strings.ReplaceAll(key, "\t", `\t`) + `":1}}`
		for _, chunk := range []int{len(doc), 1, 5} {
			r := NewResponse(c)
			o := NewObserver(r)
			for i := 0; i < len(doc); i += chunk {
				o.Write([]byte(doc[i:min(i+chunk, len(doc))]))
			}
			o.Close()
			if r.Values[c.Index("card_number")] != 1 || !strings.Contains(describe(r), "m.* number card_number") {
				t.Errorf("key %.20q…, chunks of %d: %s", key, chunk, describe(r))
			}
		}
		r := NewResponse(c)
		out, _ := p.AppendProcessInspected(nil, decideJSON(p), []byte(doc), nil, r)
		if strings.Contains(string(out), "4111") {
			t.Errorf("key %.20q…: the filter's pass left it: %.80s", key, out)
		}
	}
}
