package global

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// binaries finds redis-server and envoyproxy/ratelimit's service_cmd (see
// install.sh). Without them the tests skip, except under CI=true, where
// .ci/run has installed them and their absence is a failure.
func binaries(t *testing.T) (redis, rls string) {
	t.Helper()
	redis, _ = exec.LookPath("redis-server")
	rls = os.Getenv("APIGUARD_RATELIMIT_BIN")
	if rls == "" {
		if p, err := exec.LookPath("service_cmd"); err == nil {
			rls = p
		} else if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			p := filepath.Join(string(bytes.TrimSpace(out)), "bin", "service_cmd")
			if _, err := os.Stat(p); err == nil {
				rls = p
			}
		}
	}
	if redis != "" && rls != "" {
		return redis, rls
	}
	msg := fmt.Sprintf("fleet-wide rate-limit e2e needs redis-server (found %q) and envoyproxy/ratelimit's service_cmd (found %q); run e2e/global/install.sh", redis, rls)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return "", ""
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a child process the test started; stop ends it by its pid.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

func spawn(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls ready until it succeeds or the process dies or 20 s pass.
func (p *process) waitReady(t *testing.T, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ready() {
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("%s did not become ready; output:\n%s", p.name, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stack is one Redis and one envoyproxy/ratelimit service holding limits.
type stack struct {
	redis, rls    *process
	redisPort     int
	httpPort      int
	redisBin, bin string
	runtime       string
}

// serviceConfig is the service's YAML: 6 requests a minute per tenant, and
// 1000 a minute for the tenant "big" (the plugin's pre-limit test).
const serviceConfig = `domain: apiguard
descriptors:
  - key: tenant
    rate_limit:
      unit: minute
      requests_per_unit: 6
  - key: tenant
    value: big
    rate_limit:
      unit: minute
      requests_per_unit: 1000
`

func startStack(t *testing.T) *stack {
	t.Helper()
	redisBin, bin := binaries(t)
	s := &stack{redisBin: redisBin, bin: bin, runtime: t.TempDir()}
	dir := filepath.Join(s.runtime, "ratelimit", "config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "apiguard.yaml"), []byte(serviceConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	s.startRedis(t)
	s.startService(t)
	return s
}

func (s *stack) startRedis(t *testing.T) {
	t.Helper()
	if s.redisPort == 0 {
		s.redisPort = freePort(t)
	}
	s.redis = spawn(t, "redis-server", exec.Command(s.redisBin,
		"--port", strconv.Itoa(s.redisPort), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.runtime))
	s.redis.waitReady(t, func() bool { return dial(s.redisPort) })
}

func (s *stack) startService(t *testing.T) {
	t.Helper()
	if s.httpPort == 0 {
		s.httpPort = freePort(t)
	}
	cmd := exec.Command(s.bin)
	cmd.Env = append(os.Environ(),
		"HOST=127.0.0.1", "PORT="+strconv.Itoa(s.httpPort),
		"GRPC_HOST=127.0.0.1", "GRPC_PORT="+strconv.Itoa(freePort(t)),
		"DEBUG_HOST=127.0.0.1", "DEBUG_PORT="+strconv.Itoa(freePort(t)),
		"USE_STATSD=false", "LOG_LEVEL=warn",
		"BACKEND_TYPE=redis", "REDIS_SOCKET_TYPE=tcp", "REDIS_URL=127.0.0.1:"+strconv.Itoa(s.redisPort),
		"RUNTIME_ROOT="+s.runtime, "RUNTIME_SUBDIRECTORY=ratelimit", "RUNTIME_WATCH_ROOT=false",
		"RUNTIME_IGNOREDOTFILES=true",
	)
	s.rls = spawn(t, "envoyproxy/ratelimit", cmd)
	url := "http://127.0.0.1:" + strconv.Itoa(s.httpPort) + "/healthcheck"
	s.rls.waitReady(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

func (s *stack) serviceURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.httpPort) }

func dial(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
