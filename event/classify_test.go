package event

import (
	"math/rand/v2"
	"testing"
)

// TestClassify: the classifier (the portable one; an AVX2 one was dropped) agrees with a byte
// by byte reading, at every length and alignment.
func TestClassify(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	alphabet := []byte{'a', ' ', '"', '\\', 0x1f, 0x20, 0x00, 0x7f, 0x80, 0xff, '{', 'e'}
	buf := make([]byte, 400)
	for n := range 20000 {
		l := n % 300
		off := r.IntN(8)
		b := buf[off : off+l]
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
			if r.IntN(4) > 0 {
				b[i] = 'x'
			}
		}
		words := (l + 63) / 64
		wq, wb := make([]uint64, words), make([]uint64, words)
		var wctl, whi bool
		for i, c := range b {
			switch {
			case c == '"':
				wq[i/64] |= 1 << (i % 64)
			case c == '\\':
				wb[i/64] |= 1 << (i % 64)
			case c < 0x20:
				wctl = true
			case c >= 0x80:
				whi = true
			}
		}
		for _, impl := range []struct {
			name string
			f    func([]byte, []uint64, []uint64) (bool, bool)
		}{{"go", classifyGo}, {"classify", classify}} {
			q, bs := make([]uint64, words), make([]uint64, words)
			ctl, hi := impl.f(b, q, bs)
			if ctl != wctl || hi != whi {
				t.Fatalf("%s(%q): ctl %v hi %v, want %v %v", impl.name, b, ctl, hi, wctl, whi)
			}
			for w := range words {
				if q[w] != wq[w] || bs[w] != wb[w] {
					t.Fatalf("%s(%q) word %d: q %x bs %x, want %x %x", impl.name, b, w, q[w], bs[w], wq[w], wb[w])
				}
			}
		}
	}
}

func TestNext(t *testing.T) {
	bm := []uint64{1 << 5, 0, 1 << 63}
	for _, c := range []struct{ from, want int }{{0, 5}, {5, 5}, {6, 191}, {191, 191}, {192, -1}, {500, -1}} {
		if got := next(bm, c.from); got != c.want {
			t.Errorf("next(%d) = %d, want %d", c.from, got, c.want)
		}
	}
}

func TestAnyBit(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for range 5000 {
		bm := make([]uint64, 3)
		for range r.IntN(4) {
			k := r.IntN(192)
			bm[k/64] |= 1 << (k % 64)
		}
		from, to := r.IntN(193), r.IntN(193)
		want := false
		for k := from; k < to; k++ {
			want = want || bm[k/64]&(1<<(k%64)) != 0
		}
		if got := anyBit(bm, from, to); got != want {
			t.Fatalf("anyBit(%x, %d, %d) = %v, want %v", bm, from, to, got, want)
		}
	}
}
