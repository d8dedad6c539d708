// Package deflate implements the WebSocket permessage-deflate extension of
// RFC 7692: parsing of the Sec-WebSocket-Extensions header (RFC 6455 section
// 9.1), server-side parameter negotiation (RFC 7692 section 7.1), and the
// per-message payload transformation (RFC 7692 section 7.2).
//
// # Negotiation
//
// [ParseExtensions] turns the request's Sec-WebSocket-Extensions values into
// [Extension] offers, and [Negotiate] picks the first acceptable
// permessage-deflate offer under a server [Policy]. The resulting [Params]
// configure one [Compressor] (server-to-client messages) and one
// [Decompressor] (client-to-server messages) per connection.
//
// # Compression
//
// A [Compressor] deflates a whole message, sync-flushes and drops the trailing
// 0x00 0x00 0xff 0xff (RFC 7692 section 7.2.1). Without context takeover it
// borrows a DEFLATE writer from a process-wide pool for the duration of one
// call, so idle connections cost nothing. When the peer limited our window
// (server_max_window_bits below 15) it uses Huffman-only coding, which emits
// no LZ77 back-references at all and so is valid for every window size.
//
// # Decompression
//
// A [Decompressor] is streaming: compressed payload bytes are fed with
// [Decompressor.Write] in whatever pieces the frames deliver, decompressed
// data is handed to a callback as it becomes available, and
// [Decompressor.Finish] ends the message (RFC 7692 section 7.2.2). The size
// limit is enforced while inflating, so a decompression bomb is stopped
// within one output buffer (32 KiB when streaming, 256 KiB in Finish) of
// crossing the limit.
//
// Neither Compressor nor Decompressor is safe for concurrent use; each belongs
// to one connection and one direction.
package deflate
