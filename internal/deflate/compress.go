package deflate

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/flate"
)

// Compression levels accepted by [NewCompressor]; they are those of
// github.com/klauspost/compress/flate.
const (
	NoCompression      = flate.NoCompression
	BestSpeed          = flate.BestSpeed
	BestCompression    = flate.BestCompression
	DefaultCompression = flate.DefaultCompression
	HuffmanOnly        = flate.HuffmanOnly
)

// syncTail is the end of a DEFLATE sync flush (an empty stored block's LEN
// and NLEN), which RFC 7692 section 7.2.1 removes from every message.
var syncTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

// Write appends p to w.b; it never fails.
func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// pooledWriter is a DEFLATE writer bound to its own output buffer, so it can
// be reused without rebinding.
type pooledWriter struct {
	fw  *flate.Writer
	out appendWriter
}

// writerPools holds idle writers, one pool per level from HuffmanOnly (-2)
// to BestCompression (9). Writers in a pool have been Reset.
var writerPools [BestCompression - HuffmanOnly + 1]sync.Pool

// getWriter returns a reset writer for level, from the pool or new.
func getWriter(level int) *pooledWriter {
	if w, ok := writerPools[level-HuffmanOnly].Get().(*pooledWriter); ok {
		return w
	}
	w := new(pooledWriter)
	fw, err := flate.NewWriter(&w.out, level)
	if err != nil {
		panic(fmt.Sprintf("deflate: creating writer for level %d: %v", level, err))
	}
	w.fw = fw
	return w
}

// putWriter resets w and returns it to its pool.
func putWriter(level int, w *pooledWriter) {
	w.out.b = nil
	w.fw.Reset(&w.out)
	writerPools[level-HuffmanOnly].Put(w)
}

// Compressor compresses whole messages for one connection, in the server's
// direction: it honours Params.ServerNoContextTakeover and
// Params.ServerMaxWindowBits.
//
// Memory: without context takeover, with Huffman-only coding (see
// [NewCompressor]) or at NoCompression, a Compressor holds no DEFLATE state
// between calls: each [Compressor.Compress] borrows a writer from a
// process-wide pool and gives it back, so an idle connection costs only the
// Compressor itself, 24 bytes. With context takeover the LZ77 window carries
// over between messages, so the Compressor keeps its own writer, taken on the
// first Compress and held until [Compressor.Close]. Measured with
// runtime.MemStats (TestCompressorMemory_RFC7692_7_1_1_1; go1.26, amd64,
// klauspost/compress v1.20.4), one such writer retains 0.8 MiB at level 1,
// 0.9 to 1.2 MiB at levels 2 to 6 (1.04 MiB at DefaultCompression, which is
// level 5), 1.0 MiB at levels 7 and 8 and 1.4 MiB at level 9: 10,000
// connections with context takeover at the default level hold about 10 GiB,
// against nothing without it. Servers with many connections should set
// Policy.ServerNoContextTakeover.
//
// A Compressor is not safe for concurrent use.
type Compressor struct {
	level    int           // flate level actually used
	takeover bool          // keep w between messages
	w        *pooledWriter // held writer (context takeover only)
}

// NewCompressor returns a Compressor for the negotiated params at the given
// flate level: [DefaultCompression], [HuffmanOnly], [NoCompression], or 1
// ([BestSpeed]) to 9 ([BestCompression]). It panics on any other level, a
// programming error.
//
// When params.ServerMaxWindowBits is below 15 the client's decompressor may
// only keep 2^ServerMaxWindowBits bytes of history, so the compressor must
// never emit a back-reference farther than that. The Compressor then uses
// Huffman-only coding (the level is ignored): it emits literals only, never
// an LZ77 back-reference, which is valid DEFLATE for every window size, at
// the cost of a weaker compression ratio. NoCompression is kept as is, since
// stored blocks have no back-references either. Huffman-only and stored
// output do not depend on earlier messages, so such a Compressor pools its
// writer as without context takeover.
func NewCompressor(params Params, level int) *Compressor {
	if level < HuffmanOnly || level > BestCompression {
		panic(fmt.Sprintf("deflate: invalid compression level %d: want %d to %d", level, HuffmanOnly, BestCompression))
	}
	if level == DefaultCompression {
		level = 5 // what flate uses for DefaultCompression; shares its pool
	}
	if windowBitsOrMax(params.ServerMaxWindowBits) < MaxWindowBits && level != NoCompression {
		level = HuffmanOnly
	}
	return &Compressor{
		level:    level,
		takeover: !params.ServerNoContextTakeover && level != HuffmanOnly && level != NoCompression,
	}
}

// Compress appends the compressed form of msg, one complete message, to dst
// and returns the extended slice. Following RFC 7692 section 7.2.1, msg is
// deflated, sync-flushed, and the trailing 0x00 0x00 0xff 0xff removed. An
// empty msg compresses to the single byte 0x00, an empty stored block with
// its four trailing bytes removed (RFC 7692 section 7.2.3.6).
//
// Compress does not retain dst or msg. After Close, Compress still works and
// starts a new compression context, which any peer decodes.
func (c *Compressor) Compress(dst, msg []byte) []byte {
	if len(msg) == 0 {
		// An empty stored block: BFINAL=0, BTYPE=00, padding, then the
		// removed LEN/NLEN. Valid at any point of a takeover stream, as the
		// previous message ended on a byte boundary.
		return append(dst, 0x00)
	}
	w := c.w
	if w == nil {
		w = getWriter(c.level)
	}
	w.out.b = dst
	if _, err := w.fw.Write(msg); err != nil {
		panic("deflate: writing to memory failed: " + err.Error()) // appendWriter never fails
	}
	if err := w.fw.Flush(); err != nil {
		panic("deflate: flushing to memory failed: " + err.Error())
	}
	out := w.out.b
	w.out.b = nil
	if len(out) < len(dst)+len(syncTail) || !bytes.Equal(out[len(out)-len(syncTail):], syncTail[:]) {
		panic(fmt.Sprintf("deflate: sync flush did not end with 00 00 ff ff (level %d)", c.level))
	}
	out = out[:len(out)-len(syncTail)]
	if c.takeover {
		c.w = w
	} else {
		putWriter(c.level, w)
	}
	return out
}

// Close returns the writer held for context takeover to the pool. The next
// Compress, if any, starts a new compression context.
func (c *Compressor) Close() {
	if c.w != nil {
		putWriter(c.level, c.w)
		c.w = nil
	}
}
