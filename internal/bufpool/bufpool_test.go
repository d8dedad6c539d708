package bufpool

import "testing"

func TestGetCapacityAndClass(t *testing.T) {
	for _, n := range []int{0, 1, 4096, 4097, 65536, 1 << 20, 1<<20 + 1} {
		b := Get(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		if cap(b)&(cap(b)-1) != 0 {
			t.Fatalf("Get(%d): capacity %d is not a class size", n, cap(b))
		}
		Put(b)
	}
}

func TestGrowKeepsContent(t *testing.T) {
	b := append(Get(10), "hello"...)
	b = Grow(b, 1<<16)
	if string(b) != "hello" || cap(b)-len(b) < 1<<16 {
		t.Fatalf("Grow: %q cap %d", b, cap(b))
	}
	Put(b)
}

func TestPutIgnoresOddBuffers(t *testing.T) {
	Put(make([]byte, 0, 5000)) // not a class size: dropped, must not panic
	Put(nil)
	if huge := Get(1 << 27); cap(huge) < 1<<27 {
		t.Fatal("Get beyond the largest class must still allocate")
	}
}

func BenchmarkGetPut(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Put(Get(1 << 20))
	}
}
