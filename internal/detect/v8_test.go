package detect

import (
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestClassifyNumberMatchesWhatV8Shows runs numbers through V8 (Node.js:
// String(JSON.parse(text)), what a JavaScript client shows) and checks
// ClassifyNumber against it: a number is a card exactly when the digits as
// written or the integer digits V8 shows are a card's. Skipped without
// node on PATH.
func TestClassifyNumberMatchesWhatV8Shows(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not on PATH")
	}
	rng := rand.New(rand.NewPCG(14, 5))
	var nums []string
	for len(nums) < 20000 {
		var b strings.Builder
		n := 16 + rng.IntN(4)
		b.WriteByte("3456"[rng.IntN(4)])
		for range n - 1 {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		s := b.String()
		switch rng.IntN(4) {
		case 1:
			s += "." + strings.Repeat("9", 1+rng.IntN(6))
		case 2:
			s = s[:1] + "." + s[1:] + "e" + strconv.Itoa(n-1-rng.IntN(2))
		}
		nums = append(nums, s)
	}
	in, _ := json.Marshal(nums)
	cmd := exec.Command(node, "-e", `let d="";process.stdin.on("data",c=>d+=c).on("end",()=>console.log(JSON.stringify(JSON.parse(d).map(s=>String(JSON.parse(s))))))`)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var shown []string
	if err := json.Unmarshal(out, &shown); err != nil || len(shown) != len(nums) {
		t.Fatalf("node's output: %v (%d numbers)", err, len(shown))
	}
	cards := 0
	for i, num := range nums {
		var d [maxCardDigits]byte
		n, ok := integerDigits(&d, num)
		want := ok && isCardDigits(d[:n])
		if intPart, _, _ := strings.Cut(shown[i], "."); !strings.ContainsAny(shown[i], "e") && isCardDigits([]byte(intPart)) {
			want = true
		}
		if _, got := ClassifyNumber(num, All); got != want {
			t.Errorf("ClassifyNumber(%s) = %v; V8 shows %s, want %v", num, got, shown[i], want)
		}
		if want {
			cards++
		}
	}
	t.Logf("%d numbers, %d cards", len(nums), cards)
}
