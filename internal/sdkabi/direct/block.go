package direct

import "fmt"

// The reused block behind ResponseBody (read_wasip1.go), here so that its
// rules are tested natively too.

// maxBodyBlockBytes is the largest body block a VM keeps, as the response
// filter keeps its output buffer (respfilter's keepOutputBytes): a larger
// body gets an allocation of its own, collected after its stream.
const maxBodyBlockBytes = 256 << 10

// minBodyBlockBytes is the smallest block made; a block grows by powers of
// two so bodies of slowly varying sizes do not reallocate it each time.
const minBodyBlockBytes = 4 << 10

// reusedBlock is a block lent out for one host value at a time.
type reusedBlock struct {
	buf []byte
	// out is set while a value in buf is lent out; used is its length.
	out  bool
	used int
	// loans counts the host values written into buf (BodyBlockLoans).
	loans uint64
}

// lend returns the block for a value of at most size bytes, grown to fit
// when size is within maxBodyBlockBytes; nil while the block is lent. A
// size that only bounds the read (the whole body, however long) gets the
// block as it is: the host's value then lands in it if it fits.
func (b *reusedBlock) lend(size int) []byte {
	if b.out {
		return nil
	}
	if size > len(b.buf) && size <= maxBodyBlockBytes {
		n := minBodyBlockBytes
		for n < size {
			n *= 2
		}
		b.buf = make([]byte, n)
	}
	return b.buf
}

// lent records that the host wrote an n-byte value into the block and
// returns the value. Its capacity is n, so an append copies it instead of
// reaching the block's bytes past n (an earlier, longer value's, before
// they were zeroed). A host that reports more bytes than its allocation
// asked for is refused, not read past.
func (b *reusedBlock) lent(n uint32) ([]byte, error) {
	if uint64(n) > uint64(len(b.buf)) {
		return nil, fmt.Errorf("proxy_get_buffer_bytes: host reported %d bytes in a %d-byte block", n, len(b.buf))
	}
	b.out, b.used = true, int(n)
	b.loans++
	return b.buf[:n:n], nil
}

// release zeroes what was lent and frees the block.
func (b *reusedBlock) release() {
	if b.out {
		clear(b.buf[:b.used])
		b.out, b.used = false, 0
	}
}
