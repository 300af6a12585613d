package direct

import (
	"bytes"
	"testing"
)

// TestReusedBlockLendsOneValueAtATime: while a body is lent, a second read
// gets no block (the host then allocates a new one), so two bodies never
// share bytes; once released, the block serves the next body.
func TestReusedBlockLendsOneValueAtATime(t *testing.T) {
	var b reusedBlock
	block := b.lend(100)
	if len(block) != minBodyBlockBytes {
		t.Fatalf("first block: %d bytes, want %d", len(block), minBodyBlockBytes)
	}
	if _, err := b.lent(100); err != nil {
		t.Fatal(err)
	}
	if again := b.lend(100); again != nil {
		t.Fatalf("lent twice: a second body would overwrite the first")
	}
	b.release()
	if again := b.lend(100); len(again) == 0 || &again[0] != &block[0] {
		t.Fatalf("released block not lent again")
	}
	if b.loans != 1 {
		t.Errorf("loans %d, want 1", b.loans)
	}
}

// TestReusedBlockShowsNothingOfAnEarlierValue: a body read after a longer
// one is exactly its own bytes: the longer one was zeroed at its release,
// and the shorter one's capacity ends at its length, so an append copies
// instead of reaching the block past it.
func TestReusedBlockShowsNothingOfAnEarlierValue(t *testing.T) {
	var b reusedBlock
	block := b.lend(1000)
	copy(block, bytes.Repeat([]byte("A"), 1000)) // the host writes the first body
	first, err := b.lent(1000)
	if err != nil || string(first) != string(bytes.Repeat([]byte("A"), 1000)) {
		t.Fatalf("first body: %q %v", first, err)
	}
	b.release()
	if i := bytes.IndexFunc(first, func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("released body not zeroed at %d: a view kept by mistake would still read it", i)
	}
	block = b.lend(10)
	copy(block, "0123456789")
	second, err := b.lent(10)
	if err != nil || string(second) != "0123456789" || cap(second) != 10 {
		t.Fatalf("second body: %q (cap %d) %v, want its 10 bytes with capacity 10", second, cap(second), err)
	}
	grown := append(second, 'x')
	if &grown[0] == &block[0] || block[10] != 0 {
		t.Errorf("an append to the body wrote into the block")
	}
}

// TestReusedBlockGrowsWithinItsBound: the block grows by powers of two to
// fit a body up to maxBodyBlockBytes; a larger one, or a size that only
// bounds the read (the trailers callback asks for the whole limit), gets
// the block as it is, which the host uses only if the body fits.
func TestReusedBlockGrowsWithinItsBound(t *testing.T) {
	var b reusedBlock
	for _, c := range []struct{ size, want int }{
		{10 << 10, 16 << 10},
		{9 << 10, 16 << 10}, // fits: not reallocated
		{maxBodyBlockBytes, maxBodyBlockBytes},
		{maxBodyBlockBytes + 1, maxBodyBlockBytes},
		{1 << 20, maxBodyBlockBytes},
	} {
		if got := len(b.lend(c.size)); got != c.want {
			t.Errorf("lend(%d): %d-byte block, want %d", c.size, got, c.want)
		}
	}
}

// TestReusedBlockRefusesAnOverlongReport: a host that reports more bytes
// than the block holds is an error, never a read past the block.
func TestReusedBlockRefusesAnOverlongReport(t *testing.T) {
	var b reusedBlock
	block := b.lend(100)
	if v, err := b.lent(uint32(len(block) + 1)); err == nil {
		t.Fatalf("lent %d bytes of a %d-byte block", len(v), len(block))
	}
	if b.out {
		t.Errorf("a refused value left the block lent")
	}
}
