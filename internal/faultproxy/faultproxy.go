// Package faultproxy is a loopback TCP proxy for outage tests: a client
// connects to the proxy instead of a broker, and the test cuts the broker
// away (every open connection reset, every new one reset at once) and
// restores it, without touching the broker other tests share.
package faultproxy

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
)

// Proxy forwards connections on a loopback port to an upstream address.
type Proxy struct {
	upstream string
	ln       net.Listener

	mu    sync.Mutex
	cut   bool
	mute  bool // new connections: nothing of the client's passes after the AMQP handshake
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// New listens on 127.0.0.1 (a free port) and forwards to upstream
// (host:port). Close stops it.
func New(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{upstream: upstream, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// ForURL puts a proxy in front of the host of rawurl (an amqp:// or http://
// URL) and returns the URL through it, credentials and path kept.
func ForURL(rawurl string) (string, *Proxy, error) {
	u, err := url.Parse(rawurl)
	if err != nil {
		return "", nil, err
	}
	p, err := New(u.Host)
	if err != nil {
		return "", nil, err
	}
	u.Host = p.Addr()
	return u.String(), p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut resets every open connection and, until Restore, every new one as
// soon as it is accepted: to the client the broker is gone.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		reset(c)
	}
}

// Restore forwards new connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut, p.mute = false, false
	p.mu.Unlock()
}

// MuteAfterHandshake makes every new connection go silent once its AMQP
// 0-9-1 handshake is done: the client's frames up to connection.open pass,
// the broker answers, and from then on nothing the client sends reaches the
// broker (it is read and dropped), so channel operations are never answered
// while the socket stays open. It is a broker that stops answering after the
// handshake; Restore ends it for new connections.
func (p *Proxy) MuteAfterHandshake() {
	p.mu.Lock()
	p.mute = true
	p.mu.Unlock()
}

// Conns is the number of client connections open through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		if _, up := c.(*upstreamConn); !up {
			n++
		}
	}
	return n
}

// Close stops accepting and resets every connection.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

// upstreamConn marks the broker side of a forwarded pair in conns.
type upstreamConn struct{ net.Conn }

// reset closes c with an RST rather than a FIN, as a broker that died or a
// cut network looks to the client.
func reset(c net.Conn) {
	if u, ok := c.(*upstreamConn); ok {
		c = u.Conn
	}
	if t, ok := c.(*net.TCPConn); ok {
		_ = t.SetLinger(0)
	}
	_ = c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			reset(c)
			continue
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		reset(c)
		return
	}
	up := &upstreamConn{u}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		reset(c)
		reset(up)
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	mute := p.mute
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	if mute {
		go func() {
			_ = copyHandshake(u, c)
			_, _ = io.Copy(io.Discard, c)
			done <- struct{}{}
		}()
	} else {
		go pipe(u, c)
	}
	go pipe(c, u)
	<-done
	// One side ended: end the other, so neither dangles half open.
	reset(c)
	reset(up)
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// copyHandshake copies the client's side of an AMQP 0-9-1 handshake from src
// to dst: the protocol header, then frames up to and including
// connection.open (class 10, method 40).
func copyHandshake(dst io.Writer, src io.Reader) error {
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(src, hdr); err != nil {
		return err
	}
	if _, err := dst.Write(hdr); err != nil {
		return err
	}
	for {
		// type (1), channel (2), size (4), payload, frame end (1).
		head := make([]byte, 7)
		if _, err := io.ReadFull(src, head); err != nil {
			return err
		}
		size := binary.BigEndian.Uint32(head[3:7])
		frame := make([]byte, 7+int(size)+1)
		copy(frame, head)
		if _, err := io.ReadFull(src, frame[7:]); err != nil {
			return err
		}
		if _, err := dst.Write(frame); err != nil {
			return err
		}
		if head[0] == 1 && size >= 4 && binary.BigEndian.Uint16(frame[7:9]) == 10 && binary.BigEndian.Uint16(frame[9:11]) == 40 {
			return nil
		}
	}
}
