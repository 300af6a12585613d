package claims

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/apiguard/apiguard/internal/config"
)

// maxOperands bounds any_of and all_of lists.
const maxOperands = 1024

// Condition tests one claim with exactly one operator:
//
//   - equals: the whole claim equals the operand. An array or object claim
//     never equals a scalar operand; to test membership use contains.
//   - contains: the claim, read as a set, holds the operand. An array claim
//     is the set of its elements; a string claim is the set of its
//     space-delimited words (the OAuth "scope" form, so "read write"
//     contains "write" but not "rite"); any other scalar is a set of one.
//   - any_of: the claim set holds at least one of the operands.
//   - all_of: the claim set holds every operand.
//
// Operands are scalars: strings, numbers or booleans. Values compare by type
// then value: strings exactly (case-sensitively), numbers by numeric value
// (1, 1.0 and 1e0 are equal; the string "1" is not the number 1), booleans
// as booleans. A missing claim satisfies no operator; a Condition that would
// fail Validate is false. Nothing fails open.
type Condition struct {
	Claim    Path  `json:"claim" config:"required"`
	Equals   any   `json:"equals,omitempty"`
	Contains any   `json:"contains,omitempty"`
	AnyOf    []any `json:"any_of,omitempty"`
	AllOf    []any `json:"all_of,omitempty"`
}

// Validate checks that the claim path is set and that exactly one operator
// with scalar operands is given. It also turns Go numbers in operands into
// json.Number, so Conditions built in code compare like decoded ones.
func (c *Condition) Validate() error {
	if len(c.Claim) == 0 {
		return config.Errorf("claim", "required")
	}
	if err := c.Claim.Validate(); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return config.Errorf("claim", "%s", ce.Msg)
		}
		return config.Errorf("claim", "%s", err)
	}
	if c.ops() != 1 {
		return config.Errorf("", "set exactly one of equals, contains, any_of and all_of")
	}
	switch {
	case c.Equals != nil:
		v, err := scalar(c.Equals)
		if err != nil {
			return config.Errorf("equals", "%s", err)
		}
		c.Equals = v
	case c.Contains != nil:
		v, err := scalar(c.Contains)
		if err != nil {
			return config.Errorf("contains", "%s", err)
		}
		c.Contains = v
	case c.AnyOf != nil:
		return scalarList("any_of", c.AnyOf)
	case c.AllOf != nil:
		return scalarList("all_of", c.AllOf)
	}
	return nil
}

func (c *Condition) ops() int {
	n := 0
	if c.Equals != nil {
		n++
	}
	if c.Contains != nil {
		n++
	}
	if c.AnyOf != nil {
		n++
	}
	if c.AllOf != nil {
		n++
	}
	return n
}

func scalarList(name string, list []any) error {
	if len(list) == 0 {
		return config.Errorf(name, "must not be empty")
	}
	if len(list) > maxOperands {
		return config.Errorf(name, "has more than %d values", maxOperands)
	}
	for i, v := range list {
		s, err := scalar(v)
		if err != nil {
			return config.Errorf(name+"["+strconv.Itoa(i)+"]", "%s", err)
		}
		list[i] = s
	}
	return nil
}

type operandError string

func (e operandError) Error() string { return string(e) }

// scalar checks an operand and converts Go numbers to json.Number.
func scalar(v any) (any, error) {
	switch x := v.(type) {
	case string, bool:
		return x, nil
	case json.Number:
		if _, ok := parseDecimal(string(x)); !ok {
			return nil, operandError("invalid number " + strconv.Quote(string(x)))
		}
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, operandError("number must be finite")
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case float32:
		return scalar(float64(x))
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10)), nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10)), nil
	case uint64:
		return json.Number(strconv.FormatUint(x, 10)), nil
	case uint32:
		return json.Number(strconv.FormatUint(uint64(x), 10)), nil
	case uint:
		return json.Number(strconv.FormatUint(uint64(x), 10)), nil
	case nil:
		return nil, operandError("must not be null")
	case []any, map[string]any:
		return nil, operandError("must be a string, number or boolean")
	default:
		return nil, operandError("must be a string, number or boolean")
	}
}

// Eval reports whether the condition holds for claims, as decoded by
// encoding/json with UseNumber. See Condition for the semantics.
func (c *Condition) Eval(claims map[string]any) bool {
	if c == nil || len(c.Claim) == 0 || c.ops() != 1 {
		return false
	}
	v, ok := Lookup(claims, c.Claim)
	if !ok || v == nil {
		return false
	}
	switch {
	case c.Equals != nil:
		return equal(v, c.Equals)
	case c.Contains != nil:
		return setHas(v, c.Contains)
	case c.AnyOf != nil:
		for _, want := range c.AnyOf {
			if setHas(v, want) {
				return true
			}
		}
		return false
	default:
		if len(c.AllOf) == 0 {
			return false
		}
		for _, want := range c.AllOf {
			if !setHas(v, want) {
				return false
			}
		}
		return true
	}
}

// All reports whether every condition holds. An empty list holds.
func All(conds []Condition, claims map[string]any) bool {
	for i := range conds {
		if !conds[i].Eval(claims) {
			return false
		}
	}
	return true
}

// setHas reports whether the claim, read as a set, holds want.
func setHas(claim, want any) bool {
	switch c := claim.(type) {
	case []any:
		for _, e := range c {
			if equal(e, want) {
				return true
			}
		}
		return false
	case string:
		w, ok := want.(string)
		if !ok || w == "" {
			return false
		}
		return hasWord(c, w)
	case map[string]any:
		return false
	default:
		return equal(c, want)
	}
}

// hasWord reports whether the space-delimited list s holds the word w,
// without allocating.
func hasWord(s, w string) bool {
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != ' ' {
			i++
		}
		if s[:i] == w {
			return true
		}
		if i == len(s) {
			return false
		}
		s = s[i+1:]
	}
	return false
}

// equal compares a claim value with a scalar operand: same type and value.
func equal(claim, want any) bool {
	switch w := want.(type) {
	case string:
		c, ok := claim.(string)
		return ok && c == w
	case bool:
		c, ok := claim.(bool)
		return ok && c == w
	case json.Number:
		return numberEqual(claim, string(w))
	default:
		n, err := scalar(want)
		if err != nil {
			return false
		}
		if num, ok := n.(json.Number); ok {
			return numberEqual(claim, string(num))
		}
		return false
	}
}

func numberEqual(claim any, want string) bool {
	var got string
	switch c := claim.(type) {
	case json.Number:
		got = string(c)
	case float64:
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return false
		}
		got = strconv.FormatFloat(c, 'g', -1, 64)
	default:
		return false
	}
	a, ok1 := parseDecimal(got)
	b, ok2 := parseDecimal(want)
	return ok1 && ok2 && a.equal(b)
}
