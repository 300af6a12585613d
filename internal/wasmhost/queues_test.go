package wasmhost

import (
	"testing"
)

func TestSharedQueueNotifiesTheLastRegistrant(t *testing.T) {
	cfg := conformanceConfig("queue")
	cfg.Workers = 2
	p := startConformance(t, Options{}, cfg)
	do(t, p, echoUpstream, "GET", "/", "", "x-do", "enqueue:job-1")
	eventually(t, "on_queue_ready", func() bool { return hasLog(p, LogInfo, "queue item job-1") })
	// Exactly one VM (the last to register) is notified and drains the queue.
	n := 0
	worker := -2
	for _, e := range p.Logs() {
		if e.Message == "queue item job-1 root=1" {
			n++
			worker = e.Worker
		}
	}
	if n != 1 || worker != 1 {
		t.Fatalf("notified %d times, worker %d; want once, worker 1 (the last registrant)", n, worker)
	}
	eventually(t, "EMPTY after draining", func() bool { return hasLog(p, LogInfo, "queue drained status=7") })
}

func TestQueueStoreStatuses(t *testing.T) {
	q := newQueueStore()
	if _, st := q.dequeue(42); st != statusNotFound {
		t.Fatalf("unknown token: %d", st)
	}
	tok := q.register(queueKey{"vm", "q"}, nil, 1)
	if again := q.register(queueKey{"vm", "q"}, nil, 2); again != tok {
		t.Fatal("re-registering must keep the token")
	}
	if _, st := q.dequeue(tok); st != statusEmpty {
		t.Fatalf("empty: %d", st)
	}
	if _, _, st := q.enqueue(tok, []byte("x")); st != statusOK {
		t.Fatal(st)
	}
	if v, st := q.dequeue(tok); st != statusOK || string(v) != "x" {
		t.Fatalf("%q %d", v, st)
	}
	if _, ok := q.resolve(queueKey{"other", "q"}); ok {
		t.Fatal("queues are keyed by vm_id")
	}
}
