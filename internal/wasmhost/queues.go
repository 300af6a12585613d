package wasmhost

import "sync"

// Shared queues. Mirrors cpp-host src/shared_queue.cc: queues keyed by
// (vm_id, name); registering again moves the queue to the last registrant,
// whose context gets proxy_on_queue_ready on its own VM; dequeuing an empty
// queue is EMPTY; an unknown token is NOT_FOUND.

const (
	fnRegisterSharedQueue = "proxy_register_shared_queue"
	fnResolveSharedQueue  = "proxy_resolve_shared_queue"
	fnDequeueSharedQueue  = "proxy_dequeue_shared_queue"
	fnEnqueueSharedQueue  = "proxy_enqueue_shared_queue"
)

type queueKey struct{ vmID, name string }

type sharedQueue struct {
	key       queueKey
	items     [][]byte
	owner     *vm
	contextID uint32
}

type queueStore struct {
	mu     sync.Mutex
	token  uint32
	byKey  map[queueKey]uint32
	queues map[uint32]*sharedQueue
}

func newQueueStore() *queueStore {
	return &queueStore{byKey: map[queueKey]uint32{}, queues: map[uint32]*sharedQueue{}}
}

func (q *queueStore) register(key queueKey, owner *vm, contextID uint32) uint32 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if tok, ok := q.byKey[key]; ok {
		sq := q.queues[tok]
		sq.owner, sq.contextID = owner, contextID
		return tok
	}
	for {
		q.token++
		if q.token != 0 && q.queues[q.token] == nil {
			break
		}
	}
	q.byKey[key] = q.token
	q.queues[q.token] = &sharedQueue{key: key, owner: owner, contextID: contextID}
	return q.token
}

func (q *queueStore) resolve(key queueKey) (uint32, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	tok, ok := q.byKey[key]
	return tok, ok
}

func (q *queueStore) dequeue(token uint32) ([]byte, status) {
	q.mu.Lock()
	defer q.mu.Unlock()
	sq := q.queues[token]
	if sq == nil {
		return nil, statusNotFound
	}
	if len(sq.items) == 0 {
		return nil, statusEmpty
	}
	item := sq.items[0]
	sq.items[0] = nil
	sq.items = sq.items[1:]
	return item, statusOK
}

func (q *queueStore) enqueue(token uint32, value []byte) (owner *vm, contextID uint32, st status) {
	q.mu.Lock()
	defer q.mu.Unlock()
	sq := q.queues[token]
	if sq == nil {
		return nil, 0, statusNotFound
	}
	sq.items = append(sq.items, append([]byte(nil), value...))
	return sq.owner, sq.contextID, statusOK
}

func queueFunctions() []hostFunc {
	const spec = "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#"
	return []hostFunc{
		{name: fnRegisterSharedQueue, params: i32s(3), results: resultI32, fn: hostRegisterSharedQueue, doc: spec + fnRegisterSharedQueue},
		{name: fnResolveSharedQueue, params: i32s(5), results: resultI32, fn: hostResolveSharedQueue, doc: spec + fnResolveSharedQueue},
		{name: fnDequeueSharedQueue, params: i32s(3), results: resultI32, fn: hostDequeueSharedQueue, doc: spec + fnDequeueSharedQueue},
		{name: fnEnqueueSharedQueue, params: i32s(3), results: resultI32, fn: hostEnqueueSharedQueue, doc: spec + fnEnqueueSharedQueue},
	}
}

// hostRegisterSharedQueue implements proxy_register_shared_queue(name, token_out).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_register_shared_queue
func hostRegisterSharedQueue(v *vm, s []uint64) {
	name, ok := v.readString(uint32(s[0]), uint32(s[1]))
	if !ok {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	c := v.context()
	tok := v.m.queues.register(queueKey{v.p.cfg.VMID, name}, v, c.id)
	if !v.writeU32(uint32(s[2]), tok) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	s[0] = uint64(statusOK)
}

// hostResolveSharedQueue implements proxy_resolve_shared_queue(vm_id, name, token_out).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_resolve_shared_queue
func hostResolveSharedQueue(v *vm, s []uint64) {
	vmID, ok1 := v.readString(uint32(s[0]), uint32(s[1]))
	name, ok2 := v.readString(uint32(s[2]), uint32(s[3]))
	if !ok1 || !ok2 {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	tok, found := v.m.queues.resolve(queueKey{vmID, name})
	if !found {
		s[0] = uint64(statusNotFound)
		return
	}
	if !v.writeU32(uint32(s[4]), tok) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	s[0] = uint64(statusOK)
}

// hostDequeueSharedQueue implements proxy_dequeue_shared_queue(token, value_out).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_dequeue_shared_queue
func hostDequeueSharedQueue(v *vm, s []uint64) {
	item, st := v.m.queues.dequeue(uint32(s[0]))
	if st != statusOK {
		s[0] = uint64(st)
		return
	}
	s[0] = uint64(v.copyOut(uint32(s[1]), uint32(s[2]), item))
}

// hostEnqueueSharedQueue implements proxy_enqueue_shared_queue(token, value);
// the owner's context gets proxy_on_queue_ready on its own VM, later.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_enqueue_shared_queue
func hostEnqueueSharedQueue(v *vm, s []uint64) {
	tok := uint32(s[0])
	val, ok := v.read(uint32(s[1]), uint32(s[2]))
	if !ok {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	owner, contextID, st := v.m.queues.enqueue(tok, val)
	if st == statusOK && owner != nil {
		go owner.queueReady(contextID, tok)
	}
	s[0] = uint64(st)
}

// queueReady delivers proxy_on_queue_ready(context_id, token) on the owner VM.
func (v *vm) queueReady(contextID, token uint32) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.contexts[contextID]
	if c == nil {
		return
	}
	v.stack[0], v.stack[1] = uint64(contextID), uint64(token)
	_, _ = v.callback(c, v.fn.queueReady, 0)
}
