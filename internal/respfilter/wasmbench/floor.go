package main

import (
	"fmt"
	"time"

	"github.com/tidwall/gjson"
)

// floor measures what gjson alone costs on doc: validation, and one
// ForEach pass over the top-level members (which scans every byte once).
// The filter cannot be faster than validation plus that pass.
func floor(size string, doc []byte, perCase time.Duration) error {
	if err := measure("gjson-valid", size, len(doc), perCase, func() error {
		if !gjson.ValidBytes(doc) {
			return fmt.Errorf("invalid document")
		}
		return nil
	}); err != nil {
		return err
	}
	return measure("gjson-scan", size, len(doc), perCase, func() error {
		n := 0
		gjson.ParseBytes(doc).ForEach(func(_, v gjson.Result) bool {
			n += len(v.Raw)
			return true
		})
		if n == 0 {
			return fmt.Errorf("empty scan")
		}
		return nil
	})
}
