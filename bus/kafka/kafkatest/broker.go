package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvLibs names the environment variable that holds the directory of the
// Apache Kafka jars (scripts/brokers.sh sets it), from which StartBroker runs
// a broker of the test's own.
const EnvLibs = "EDDY_TEST_KAFKA_LIBS"

// Broker is a throwaway single-node Apache Kafka (KRaft, broker and
// controller in one JVM) on free loopback ports, for tests that kill and
// restart a broker: the shared one must never be. Its log directory lives as
// long as the test, so data survives Kill and Restart.
type Broker struct {
	t              testing.TB
	libs, dir      string
	port, ctrlPort int
	cfg            Config
	ports          map[string]int // Config.Listeners' ports, by name
	cmd            *exec.Cmd
	exited         chan struct{}
}

// Listener is one more listener of a broker of the test's own, beside the
// PLAINTEXT one the broker itself and a test's setup (topics, records) use:
// a secured door to test a client's authentication against.
type Listener struct {
	// Name is the listener's name, upper case (OAUTH, GSSAPI, MTLS…): it
	// prefixes its properties in Props as listener.name.<lower case name>.
	Name string
	// Protocol is its security protocol: SSL, SASL_PLAINTEXT or SASL_SSL.
	Protocol string
	// Props are broker properties, one "key=value" each, such as
	// "listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER".
	Props []string
}

// Config is what StartBrokerWith adds to the plain broker StartBroker runs.
type Config struct {
	Listeners []Listener
	// Props are broker-wide properties, one "key=value" each.
	Props []string
	// JVMOpts are more java options, such as -Djava.security.krb5.conf=FILE
	// or -Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=URL.
	JVMOpts []string
	// Env is more environment for the broker's JVM ("KEY=value").
	Env []string
}

// StartBroker formats a log directory and starts a broker, waiting until it
// answers (up to two minutes); it is killed when the test ends. Without
// EDDY_TEST_KAFKA_LIBS the test is skipped, except in CI
// (EDDY_REQUIRE_BROKERS=1 or CI=true), where it fails.
func StartBroker(t testing.TB) *Broker {
	t.Helper()
	return StartBrokerWith(t, Config{})
}

// StartBrokerWith is StartBroker with cfg's listeners, properties and java
// options added; ListenerAddr gives each listener's address. It is skipped
// or fails without the jars as StartBroker does.
func StartBrokerWith(t testing.TB, cfg Config) *Broker {
	t.Helper()
	libs := os.Getenv(EnvLibs)
	if libs == "" {
		if os.Getenv("EDDY_REQUIRE_BROKERS") == "1" || os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: a broker to kill and restart is required here (scripts/brokers.sh up sets it)", EnvLibs)
		}
		t.Skipf("%s is not set: no Kafka jars to start a broker to kill and restart", EnvLibs)
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("%s is set but java is not installed: %v", EnvLibs, err)
	}
	b := &Broker{t: t, libs: libs, dir: t.TempDir(), port: freePort(t), ctrlPort: freePort(t), cfg: cfg, ports: map[string]int{}}
	listeners := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", b.port, b.ctrlPort)
	advertised := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", b.port)
	protocols := "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
	var extra strings.Builder
	for _, l := range cfg.Listeners {
		port := freePort(t)
		b.ports[l.Name] = port
		listeners += fmt.Sprintf(",%s://127.0.0.1:%d", l.Name, port)
		advertised += fmt.Sprintf(",%s://127.0.0.1:%d", l.Name, port)
		protocols += "," + l.Name + ":" + l.Protocol
		for _, p := range l.Props {
			extra.WriteString(p + "\n")
		}
	}
	for _, p := range cfg.Props {
		extra.WriteString(p + "\n")
	}
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=%[4]s
advertised.listeners=%[5]s
controller.listener.names=CONTROLLER
listener.security.protocol.map=%[6]s
inter.broker.listener.name=PLAINTEXT
log.dirs=%[3]s
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.ms=-1
`, b.port, b.ctrlPort, filepath.Join(b.dir, "data"), listeners, advertised, protocols) + extra.String()
	if err := os.WriteFile(b.file("server.properties"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	log4j := "Configuration:\n  Appenders:\n    Console: {name: STDOUT, PatternLayout: {pattern: \"[%d] %p %m (%c)%n\"}}\n" +
		"  Loggers:\n    Root: {level: WARN, AppenderRef: [{ref: STDOUT}]}\n"
	if err := os.WriteFile(b.file("log4j2.yaml"), []byte(log4j), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, err := exec.CommandContext(ctx, "java", "-cp", b.classpath(), "kafka.tools.StorageTool", "random-uuid").Output()
	if err != nil {
		t.Fatalf("kafka random-uuid: %v", err)
	}
	lines := strings.Fields(string(id))
	if len(lines) == 0 {
		t.Fatal("kafka random-uuid printed nothing")
	}
	format := exec.CommandContext(ctx, "java", append(b.javaOpts(), "-cp", b.classpath(), "kafka.tools.StorageTool", "format",
		"-t", lines[len(lines)-1], "-c", b.file("server.properties"))...)
	if out, err := format.CombinedOutput(); err != nil {
		t.Fatalf("kafka storage format: %v\n%s", err, out)
	}
	t.Cleanup(b.Kill)
	b.Restart()
	return b
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// ListenerAddr is the host:port of the listener of Config.Listeners named
// name; it fails the test for a name the broker was not given.
func (b *Broker) ListenerAddr(name string) string {
	b.t.Helper()
	port, ok := b.ports[name]
	if !ok {
		b.t.Fatalf("kafkatest: the broker has no listener %q", name)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// Dir is the broker's own directory (its server.properties and kafka.log
// are there), for files a test makes for it: keystores, JAAS files, keys.
func (b *Broker) Dir() string { return b.dir }

// Log is what the broker has logged so far, for a test's failure message.
func (b *Broker) Log() string {
	log, _ := os.ReadFile(b.file("kafka.log"))
	return string(tail(log, 8000))
}

// Seeds is Addr as a seed list.
func (b *Broker) Seeds() []string { return []string{b.Addr()} }

// Kill ends the broker with SIGKILL, as a crash would, and waits for it to
// be gone. Killing a broker that is not running does nothing.
func (b *Broker) Kill() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
	b.cmd = nil
}

// Restart starts the broker (again) on the same ports and log directory and
// waits until it answers a metadata request, for up to two minutes.
func (b *Broker) Restart() {
	b.t.Helper()
	if b.cmd != nil {
		b.t.Fatal("kafkatest: Restart of a running broker")
	}
	logf, err := os.OpenFile(b.file("kafka.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	cmd := exec.Command("java", append(b.javaOpts(), "-cp", b.classpath(), "kafka.Kafka", b.file("server.properties"))...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if len(b.cfg.Env) > 0 {
		cmd.Env = append(os.Environ(), b.cfg.Env...)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		b.t.Fatalf("starting kafka: %v", err)
	}
	b.cmd, b.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}(b.exited)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-b.exited:
			log, _ := os.ReadFile(b.file("kafka.log"))
			b.t.Fatalf("kafka exited while starting:\n%s", tail(log, 4000))
		default:
		}
		if b.answers() {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(b.file("kafka.log"))
			b.t.Fatalf("kafka did not answer on %s within 2 minutes:\n%s", b.Addr(), tail(log, 4000))
		}
		time.Sleep(100 * time.Millisecond) // poll the port; the answer, not the time, ends the wait
	}
}

// answers reports whether the broker answers a metadata request with itself
// as a broker.
func (b *Broker) answers() bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DialTimeout(time.Second))
	if err != nil {
		return false
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return cl.Ping(ctx) == nil
}

func (b *Broker) file(name string) string { return filepath.Join(b.dir, name) }

func (b *Broker) classpath() string { return filepath.Join(b.libs, "*") }

func (b *Broker) javaOpts() []string {
	opts := []string{"-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true", "-Dlog4j2.configurationFile=" + b.file("log4j2.yaml")}
	return append(opts, b.cfg.JVMOpts...)
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
