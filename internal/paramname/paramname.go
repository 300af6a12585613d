// Package paramname folds a decoded query parameter name to the name the
// lenient web frameworks read it as, so that a policy keyed on a parameter
// name (canon's _method, jwtauth's token parameter) sees every spelling of it.
package paramname

import "strings"

// spaceAndDot reads ' ' and '.' in a name as '_', as PHP does; built once,
// not for every parameter of every request.
var spaceAndDot = strings.NewReplacer(" ", "_", ".", "_")

// Fold returns the name PHP's php_register_variable_ex registers a decoded
// parameter name as, in lower case (ASP.NET's query collection ignores case):
// leading spaces dropped; ' ' and '.' before the first '[' turned into '_';
// a '[' with a ']' after it starts an array suffix, cut off (access_token[]
// and access_token[0]x are access_token); an unmatched '[' turned into '_'
// and the rest kept as is (access[token is access_token); a name that
// starts with '[' is "" (PHP skips it). It does not
// allocate when the name is already folded.
func Fold(name string) string {
	name = strings.TrimLeft(name, " ")
	head, rest, bracket := name, "", false
	if i := strings.IndexByte(name, '['); i >= 0 {
		if i == 0 {
			return "" // PHP registers no variable with an empty name
		}
		head, rest, bracket = name[:i], name[i+1:], true
		if strings.IndexByte(rest, ']') >= 0 {
			rest, bracket = "", false // array suffix: PHP keeps only head
		}
	}
	if strings.ContainsAny(head, " .") {
		head = spaceAndDot.Replace(head)
	}
	if bracket {
		head = head + "_" + rest
	}
	return strings.ToLower(head)
}
