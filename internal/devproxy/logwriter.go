package main

import (
	"bytes"
	"io"
	"regexp"
	"sync"
	"time"
)

// oncePerWorkers writes the host's log lines without their worker tag and
// drops a line that another worker VM wrote the moment before: every worker
// configures the same plugin and says the same thing, and one line per
// message is what an operator needs. A worker repeating itself is shown.
type oncePerWorkers struct {
	mu     sync.Mutex
	out    io.Writer
	recent map[string]lastSeen
}

type lastSeen struct {
	worker string
	at     time.Time
}

// sameMoment is how close two workers' identical lines must be to count as
// one message.
const sameMoment = 2 * time.Second

var workerTag = regexp.MustCompile(`^(\[wasm [a-z]+\]) worker=(-?\d+) `)

func newOncePerWorkers(out io.Writer) *oncePerWorkers {
	return &oncePerWorkers{out: out, recent: map[string]lastSeen{}}
}

func (o *oncePerWorkers) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	for line := range bytes.Lines(p) {
		m := workerTag.FindSubmatchIndex(line)
		if m == nil {
			if _, err := o.out.Write(line); err != nil {
				return 0, err
			}
			continue
		}
		worker := string(line[m[4]:m[5]])
		msg := string(line[m[2]:m[3]]) + " " + string(line[m[1]:])
		if seen, ok := o.recent[msg]; ok && seen.worker != worker && now.Sub(seen.at) < sameMoment {
			continue
		}
		o.recent[msg] = lastSeen{worker, now}
		if len(o.recent) > 1024 {
			clear(o.recent) // bounded: a lost suppression costs one repeated line
		}
		if _, err := io.WriteString(o.out, msg); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
