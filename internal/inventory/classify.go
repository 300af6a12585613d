// Package inventory knows what an API's responses expose: which field paths
// each route returns, with their JSON types and the sensitive classes of
// their values (internal/detect, plus classes the operator defines), and
// what to do about a sensitive value (observe, mask or deny).
//
// It reads a response in one of two ways, both without a second parse:
// Observer follows a body chunk by chunk as it passes (unfiltered routes;
// it never holds the body), and the response filter's pass calls Inspector
// for the values it keeps (filtered routes). Both feed a Response, which a
// Store merges into the inventory shared by every worker, bounded in
// entries and bytes. Paths collapse array indices to "#" and data-like
// object keys (numbers, emails, UUIDs: detect.IsDataKey) to "*", so the
// inventory grows with the API, not with its data.
//
// It is pure Go: the plugin adapts the host's shared data, metrics and
// audit sink to it.
package inventory

import (
	"fmt"
	"regexp"

	"github.com/apiguard/apiguard/internal/detect"
)

// Policy is what happens to a response value of a class.
type Policy uint8

const (
	// Observe counts and audits the value and lets it pass (the default).
	Observe Policy = iota
	// Mask replaces the value by the mask where apiguard holds the body
	// (filtered routes).
	Mask
	// Deny answers 502 where apiguard holds the body (filtered routes).
	Deny
)

var policyNames = [...]string{"observe", "mask", "deny"}

func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "unknown"
}

// ParsePolicy returns the policy named s.
func ParsePolicy(s string) (Policy, bool) {
	for i, n := range policyNames {
		if n == s {
			return Policy(i), true
		}
	}
	return 0, false
}

// ClassSet is a set of classes of one Classifier, by index: the built-in
// classes first (index = detect.Class), then the custom ones.
type ClassSet uint64

// Has reports whether class index i is in s.
func (s ClassSet) Has(i int) bool { return s&(1<<uint(i)) != 0 }

// MaxCustomClasses bounds the classes an operator may add, so that every
// class fits one ClassSet bit beside the built-in ones.
const MaxCustomClasses = 32

// builtinCount is one past the last built-in class index.
var builtinCount = len(detect.Classes()) + 1

// CustomClass is a class the operator defines: values under a key whose
// name matches Key, or string values that match Value as a whole, or both
// when both are set (RE2 syntax).
type CustomClass struct {
	Name   string
	Key    string
	Value  string
	Policy Policy
}

// Classifier decides the classes of response values. It is immutable after
// NewClassifier and safe for concurrent use.
type Classifier struct {
	builtins detect.Set
	names    []string // by class index; "" for none
	policies []Policy // by class index
	custom   []compiledClass
	// keyOnly is set when a custom class looks at keys alone: every value
	// under a matching key is of it, containers included.
	keyOnly bool
	// valueClasses is set when a custom class looks at values.
	valueClasses bool
	// minValue is the shortest string that can be of a class: shorter
	// values are not looked at (6 for the built-in classes, an email
	// "a@b.co" being the shortest; 0 with a custom value class).
	minValue int
	// quietString reports a string (JSON content, escapes as written)
	// that no class can take, whatever its key but a secret's name
	// (namesClass); nil with custom classes (Response.QuietString).
	quietString func(content []byte) bool
}

// minBuiltinValue is the shortest value of a built-in class.
const minBuiltinValue = 6

type compiledClass struct {
	index      int
	key, value *regexp.Regexp
}

// NewClassifier builds a classifier with every built-in class, the given
// policies by built-in class name (missing ones observe) and the custom
// classes.
func NewClassifier(policies map[string]Policy, custom []CustomClass) (*Classifier, error) {
	if len(custom) > MaxCustomClasses {
		return nil, fmt.Errorf("at most %d custom classes, got %d", MaxCustomClasses, len(custom))
	}
	c := &Classifier{builtins: detect.All, minValue: minBuiltinValue}
	c.names = make([]string, builtinCount, builtinCount+len(custom))
	c.policies = make([]Policy, builtinCount, builtinCount+len(custom))
	for _, dc := range detect.Classes() {
		c.names[dc] = dc.String()
	}
	for name, p := range policies {
		dc, ok := detect.ParseClass(name)
		if !ok {
			return nil, fmt.Errorf("unknown class %q", name)
		}
		c.policies[dc] = p
	}
	for i, cc := range custom {
		if cc.Name == "" || cc.Key == "" && cc.Value == "" {
			return nil, fmt.Errorf("custom class %d: a name and a key or value pattern are required", i)
		}
		if c.Index(cc.Name) >= 0 {
			return nil, fmt.Errorf("custom class %q: the name is taken", cc.Name)
		}
		k := compiledClass{index: len(c.names)}
		var err error
		if cc.Key != "" {
			if k.key, err = regexp.Compile(cc.Key); err != nil {
				return nil, fmt.Errorf("custom class %q: key: %w", cc.Name, err)
			}
		}
		if cc.Value != "" {
			if k.value, err = regexp.Compile(cc.Value); err != nil {
				return nil, fmt.Errorf("custom class %q: value: %w", cc.Name, err)
			}
		}
		c.keyOnly = c.keyOnly || k.value == nil
		if k.value != nil {
			c.minValue = 0
			c.valueClasses = true
		}
		c.names = append(c.names, cc.Name)
		c.policies = append(c.policies, cc.Policy)
		c.custom = append(c.custom, k)
	}
	if len(c.custom) == 0 {
		builtins := c.builtins
		c.quietString = func(content []byte) bool {
			return len(content) <= maxValueBytes && !detect.CanClassifyJSON(unsafeString(content), builtins)
		}
	}
	return c, nil
}

// namesClass reports whether a string under key may be of a class its
// content alone does not make it (detect.NameClassifies), when strings
// are ruled out by their content (quietString): a site where such a
// string was seen cannot be quiet for strings.
func (c *Classifier) namesClass(kind byte, key string) bool {
	return kind == '"' && c.quietString != nil && detect.NameClassifies(key, c.builtins)
}

// Names lists the class names by index ("" for unused indices).
func (c *Classifier) Names() []string { return c.names }

// Name returns the name of class index i.
func (c *Classifier) Name(i int) string {
	if i < 0 || i >= len(c.names) {
		return ""
	}
	return c.names[i]
}

// Index returns the index of the class named name, or -1.
func (c *Classifier) Index(name string) int {
	for i, n := range c.names {
		if n != "" && n == name {
			return i
		}
	}
	return -1
}

// Policy returns the policy of class index i.
func (c *Classifier) Policy(i int) Policy {
	if i < 0 || i >= len(c.policies) {
		return Observe
	}
	return c.policies[i]
}

// Enforcing reports whether any class masks or denies.
func (c *Classifier) Enforcing() bool {
	for _, p := range c.policies {
		if p != Observe {
			return true
		}
	}
	return false
}

// enforced returns the built-in classes that mask or deny, and whether a
// custom class does.
func (c *Classifier) enforced() (builtins detect.Set, custom bool) {
	for i, p := range c.policies {
		switch {
		case p == Observe:
		case i < builtinCount:
			builtins |= detect.SetOf(detect.Class(i))
		default:
			custom = true
		}
	}
	return builtins, custom
}

// Worst returns the strictest policy of the classes in s.
func (c *Classifier) Worst(s ClassSet) Policy {
	worst := Observe
	for i := range c.policies {
		if s.Has(i) && c.policies[i] > worst {
			worst = c.policies[i]
		}
	}
	return worst
}

// Key returns the classes a key name gives any value under it (custom
// classes with a key pattern and no value pattern).
func (c *Classifier) Key(key string) ClassSet {
	if !c.keyOnly || key == "" {
		return 0
	}
	var s ClassSet
	for _, k := range c.custom {
		if k.value == nil && k.key.MatchString(key) {
			s |= 1 << uint(k.index)
		}
	}
	return s
}

// Number returns the classes of a number value (its JSON text) under key:
// a card number as a client reads the number (detect.ClassifyNumber:
// 4111111111111111.0, -4111111111111111 and 4.111111111111111e15 too), and
// for a number of 12 digits or more the custom classes its digits match.
func (c *Classifier) Number(key, text string) ClassSet {
	var s ClassSet
	if dc, ok := detect.ClassifyNumber(text, c.builtins); ok {
		s = 1 << uint(dc)
	}
	if len(c.custom) > 0 && len(text) >= 12 && allDigits(text) {
		s |= c.String(key, text) &^ (1<<uint(builtinCount) - 1)
	}
	return s
}

// String returns the classes of a string value under key: the built-in
// class it is whole, or that its key makes it (detect.ClassifyUnder: a hex
// digest under "password_hash"), and the custom classes it matches.
func (c *Classifier) String(key, value string) ClassSet {
	var s ClassSet
	if dc, ok := detect.ClassifyUnder(key, value, c.builtins); ok {
		s = 1 << uint(dc)
	}
	for _, k := range c.custom {
		if k.key != nil && !k.key.MatchString(key) {
			continue
		}
		if k.value == nil || k.value.MatchString(value) {
			s |= 1 << uint(k.index)
		}
	}
	return s
}
