package inventory

import (
	"bufio"
	"errors"
	"io"
	"iter"

	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/verdict"
)

// decoder follows a compressed body (gzip, deflate) on its way to the
// client: each chunk is decoded as it passes and the decoded bytes go to
// the Observer; nothing of the body is held once its chunk is read. The
// standard library's decompressors read their input as they need it, so
// the decoding runs as a coroutine (iter.Pull: no thread, and a switch
// only where it waits for the next chunk) that reads the chunk passing
// now and waits for the next when it is used up. Its memory is the
// decompressor's window (32 KiB), a read buffer and an output buffer.
type decoder struct {
	coding string
	obs    *Observer
	// limit is the most decoded bytes shown the Observer
	// (max_observed_bytes): past it (a decompression bomb, or a small
	// gzip of many small values whose classification would hold the
	// worker for seconds) decoding stops, body_too_large.
	limit int
	// in is the rest of the chunk passing now; end is set with the last.
	in  []byte
	end bool
	// yield hands control back to the stream until the next chunk.
	yield func(struct{}) bool
	next  func() (struct{}, bool)
	stop  func()
	src   *bufio.Reader
	out   []byte
	// decoded counts the bytes decoded; failed names why the body could
	// not be followed to its end ("" when it was).
	decoded int
	failed  verdict.Reason
	// done is set once run returned; stopped once the stream ended the
	// decoding before the body's end.
	done, stopped bool
}

// decodeReadBytes and decodeOutBytes size the decoder's buffers.
const (
	decodeReadBytes = 2 << 10
	decodeOutBytes  = 4 << 10
)

// errStopped ends a decoding whose stream ended before its body did.
var errStopped = errors.New("inventory: decoding stopped")

// start begins decoding a body in coding into o, at most limit bytes.
func (d *decoder) start(coding string, o *Observer, limit int) {
	d.coding, d.obs, d.limit, d.in, d.end, d.decoded, d.failed, d.done, d.stopped = coding, o, limit, nil, false, 0, "", false, false
	if d.src == nil {
		d.src = bufio.NewReaderSize(d, decodeReadBytes)
		d.out = make([]byte, decodeOutBytes)
	}
	d.src.Reset(d)
	d.next, d.stop = iter.Pull(d.run)
	d.next() // to the first read of the body
}

// write decodes the next chunk, and ends the body with the last one.
func (d *decoder) write(chunk []byte, end bool) {
	d.in, d.end = chunk, end
	if !d.done {
		d.next()
	}
	d.in = nil // the chunk is the host's: never kept
	if end {
		d.close()
	}
}

// close ends the decoding, wherever it is: a body cut short (a reset, or
// trailers before its end) is not decoded further.
func (d *decoder) close() {
	if d.stop != nil {
		d.stop()
		d.next, d.stop = nil, nil
	}
}

// Read is the decompressor's input: the chunk passing now, then, once it
// is used up, the next (the coroutine waits for it).
func (d *decoder) Read(p []byte) (int, error) {
	for len(d.in) == 0 {
		switch {
		case d.end:
			return 0, io.EOF
		case d.stopped || !d.yield(struct{}{}):
			d.stopped = true // yield must not be called again
			return 0, errStopped
		}
	}
	n := copy(p, d.in)
	d.in = d.in[n:]
	return n, nil
}

// run is the coroutine: it decodes the body into the Observer until the
// body ends, fails to decode, or decodes past its limit.
func (d *decoder) run(yield func(struct{}) bool) {
	d.yield = yield
	defer func() {
		if recover() != nil {
			d.failed = verdict.DecodeFailed // a decompressor's bug: never expected
		}
		d.done, d.yield = true, nil
	}()
	r, err := respfilter.NewDecodingReader(d.coding, d.src)
	if err != nil {
		if !d.stopped {
			d.failed = verdict.DecodeFailed
		}
		return
	}
	for {
		n, err := r.Read(d.out)
		if n > 0 {
			if d.decoded += n; d.decoded > d.limit {
				d.failed = verdict.BodyTooLarge
				return
			}
			d.obs.Write(d.out[:n])
		}
		switch {
		case err == io.EOF || d.stopped:
			return
		case err != nil:
			d.failed = verdict.DecodeFailed
			return
		}
	}
}
