package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"golang.org/x/sys/unix"

	"github.com/eddy-sh/eddy/bus/kafka/kafkatest"
)

// TestTUIScreenRedacted: the TUI draws through the redactor, like all else
// eddy writes to stderr, so a secret eddy was given (here the SASL password,
// which is also in a topic's name) never reaches the screen: neither on
// stderr when it is the terminal nor on the controlling terminal when stderr
// is redirected (`eddy tui 2>FILE`). eddy runs in a pseudo-terminal of its
// own, as under a person's shell.
func TestTUIScreenRedacted(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs eddy tui in a pseudo-terminal")
	}
	const secret = "s3cr3t-pass"
	seeds := kafkatest.Cluster(t, kfake.SeedTopics(1, "orders-"+secret))
	bin := eddyBinary(t)
	for _, redirect := range []bool{false, true} {
		t.Run(map[bool]string{false: "stderr", true: "stderr-to-file"}[redirect], func(t *testing.T) {
			master, slave := openPTY(t, 30, 100)
			dir := t.TempDir()
			errFile, err := os.Create(filepath.Join(dir, "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer errFile.Close()
			cmd := exec.Command(bin, "tui", "--brokers", strings.Join(seeds, ","))
			cmd.Env = append(os.Environ(), "EDDY_SASL_PASSWORD="+secret, "XDG_CONFIG_HOME="+dir, "NO_COLOR=1", "TERM=xterm")
			cmd.Stdin, cmd.Stderr = slave, slave
			if redirect {
				cmd.Stderr = errFile
			}
			// The pseudo-terminal is eddy's controlling terminal (/dev/tty).
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			slave.Close()
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				cmd.Process.Kill()
				<-exited
			}()
			var mu sync.Mutex
			var screen bytes.Buffer
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := master.Read(buf)
					mu.Lock()
					screen.Write(buf[:n])
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
			shown := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(shown(), "kafka:orders-") {
				if time.Now().After(deadline) {
					t.Fatalf("the Sources view did not list the topic within 30s; the screen got:\n%q", shown())
				}
				time.Sleep(20 * time.Millisecond) // polling the screen, with a deadline
			}
			if _, err := master.Write([]byte("q")); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				exited <- err
				if err != nil {
					t.Errorf("eddy tui: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("eddy tui did not exit within 10s of q")
			}
			if s := shown(); strings.Contains(s, secret) || !strings.Contains(s, "kafka:orders-****") {
				t.Errorf("the screen shows the secret, or not its mask:\n%q", s)
			}
			if b, _ := os.ReadFile(errFile.Name()); bytes.Contains(b, []byte(secret)) {
				t.Errorf("stderr has the secret: %q", b)
			}
		})
	}
}

// openPTY opens a pseudo-terminal of rows x cols: the master end, which the
// test reads and types into, and the slave end, eddy's terminal.
func openPTY(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	return master, slave
}
