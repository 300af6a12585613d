package respfilter

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
)

// FuzzIntegerDigitsBoundsTheValue: IntegerDigits is never less than the
// digits of the integer JSON.parse reads for a number (the filter skips a
// quiet number only when that is short), and a short exponent form of a
// card number is long.
func FuzzIntegerDigitsBoundsTheValue(f *testing.F) {
	for _, s := range []string{"42e14", "4.2e15", "-42E14", "42E+14", "1.5e2", "0.5e3", "0.00005e9", "-0.0e+0", "99.99", "123", "0", "1e-5", "10e0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, num string) {
		if !json.Valid([]byte(num)) || num == "" || num[0] != '-' && (num[0] < '0' || num[0] > '9') {
			return
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsInf(v, 0) {
			return
		}
		want := 0
		if v = math.Abs(math.Trunc(v)); v >= 1 {
			want = len(strconv.FormatFloat(v, 'f', 0, 64))
		}
		if got := IntegerDigits([]byte(num)); got < want {
			t.Fatalf("IntegerDigits(%s) = %d, JSON.parse reads %d digits", num, got, want)
		}
	})
}

func TestIntegerDigits(t *testing.T) {
	for num, want := range map[string]int{"42e14": 16, "4.2e15": 16, "-42E14": 16, "42E+14": 16, "1.5e2": 3, "0.5e3": 3, "99.99": 2, "007": 1, "1e-5": 1} {
		if got := IntegerDigits([]byte(num)); got != want {
			t.Errorf("IntegerDigits(%s) = %d, want %d", num, got, want)
		}
	}
}
