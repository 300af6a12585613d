package inventory

import (
	"testing"

	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
)

// TestClassPoliciesHoldWhateverOnErrorSays: with on_error and non_json
// "allow", a body the filter could not judge whole never carries a value
// of a masked or denied class to the client: refused as sensitive_data
// when one was seen before the failure or is in the text, refused under
// the failure's reason when it cannot be searched; observe-only classes
// leave on_error alone.
func TestClassPoliciesHoldWhateverOnErrorSays(t *testing.T) {
	f, err := respfilter.New(respfilter.Config{Rules: []respfilter.Rule{{Name: "n", Allow: respfilter.Paths("*")}},
		OnError: respfilter.OnErrorAllow, NonJSON: respfilter.NonJSONAllow})
	if err != nil {
		t.Fatal(err)
	}
	p := f.Match(&route.Request{Method: "GET", Path: "/"})
	custom, err := NewClassifier(nil, []CustomClass{{Name: "employee_id", Value: `^E\d{6}$`, Policy: Mask}})
	if err != nil {
		t.Fatal(err)
	}
	observing, _ := NewClassifier(nil, nil)
	noCustom, _ := NewClassifier(map[string]Policy{"card_number": Mask, "ssn": Deny}, nil)
	keys, _ := NewClassifier(map[string]Policy{"private_key": Deny}, nil)
	const pem = `-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----`
	text := respfilter.ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "text/plain"}
	cases := []struct {
		name string
		c    *Classifier
		meta respfilter.ResponseMeta
		body string
		want respfilter.Outcome
	}{
		{"denied value, then malformed", noCustom, jsonMeta(), `{"id":1,"ssn":"078-05-1120","x":}`, deny(respfilter.ReasonSensitive)},
		{"masked value, then malformed", noCustom, jsonMeta(), `{"card":"4111111111111111","x":}`, deny(respfilter.ReasonSensitive)},
		{"malformed, then a denied value", noCustom, jsonMeta(), `{"x":,"ssn":"078-05-1120"}`, deny(respfilter.ReasonSensitive)},
		{"malformed, then an escaped card", noCustom, jsonMeta(), `{"x":,"c":"\u0034111111111111111"}`, deny(respfilter.ReasonSensitive)},
		{"malformed, then a card split by an escaped surrogate pair", noCustom, jsonMeta(), `{"x":,"c":"4111\udb40\udc20111111111111"}`, deny(respfilter.ReasonSensitive)},
		{"malformed, then a key after a certificate", keys, jsonMeta(), `{"x":,"k":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n` + pem + `"}`, deny(respfilter.ReasonSensitive)},
		{"malformed, then a card as an exponent number", noCustom, jsonMeta(), `{"x":,"c":4.111111111111111e15}`, deny(respfilter.ReasonSensitive)},
		{"malformed, then a float", noCustom, jsonMeta(), `{"x":,"c":4.111111111111111,"t":1700000000.5}`, pass(respfilter.ReasonMalformed)},
		{"text like JSON holding a key", noCustom, text, `[not json ` + pem + ` 4111111111111111`, deny(respfilter.ReasonSensitive)},
		{"HTML holding a card", noCustom, text, `<p>card 4111 1111 1111 1111</p>`, deny(respfilter.ReasonSensitive)},
		{"a certificate alone", keys, jsonMeta(), `{"x":,"k":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}`, pass(respfilter.ReasonMalformed)},
		{"HTML with nothing", noCustom, text, `<p>hello 12345</p>`, pass(respfilter.ReasonNotJSON)},
		{"malformed with nothing", noCustom, jsonMeta(), `{"id":1,"x":}`, pass(respfilter.ReasonMalformed)},
		{"an enforcing custom class", custom, text, `<p>hello</p>`, deny(respfilter.ReasonNotJSON)},
		{"observe only", observing, jsonMeta(), `{"ssn":"078-05-1120","x":}`, pass(respfilter.ReasonMalformed)},
	}
	for _, c := range cases {
		r := NewResponse(c.c)
		_, o := p.AppendProcessInspected(nil, p.DecideHeaders(c.meta), []byte(c.body), nil, r)
		if o.Action != c.want.Action || o.Reason != c.want.Reason {
			t.Errorf("%s: %v %s; want %v %s", c.name, o.Action, o.Reason, c.want.Action, c.want.Reason)
		}
	}
	// What apiguard does not hold: refused under its own reason when a
	// class is enforced, passed when none is.
	br := respfilter.ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json", ContentEncoding: "br"}
	if d := p.DecideHeadersInspected(br, NewResponse(noCustom)); d.Action != respfilter.ActionDeny || d.Reason != respfilter.ReasonUnsupportedEncoding {
		t.Errorf("unknown coding, enforcing: %v %s", d.Action, d.Reason)
	}
	if d := p.DecideHeadersInspected(br, NewResponse(observing)); d.Action != respfilter.ActionPass {
		t.Errorf("unknown coding, observing: %v %s", d.Action, d.Reason)
	}
	if o := p.Failure(respfilter.ReasonTooLarge, NewResponse(noCustom)); o.Action != respfilter.ActionDeny {
		t.Errorf("too large, enforcing: %v %s", o.Action, o.Reason)
	}
}

func jsonMeta() respfilter.ResponseMeta {
	return respfilter.ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json"}
}

func deny(r respfilter.Reason) respfilter.Outcome {
	return respfilter.Outcome{Action: respfilter.ActionDeny, Reason: r}
}

func pass(r respfilter.Reason) respfilter.Outcome {
	return respfilter.Outcome{Action: respfilter.ActionPass, Reason: r}
}
