//go:build !(linux || darwin)

package transport

// sysWritev writes vecs to a socket's descriptor one write at a time (this
// system's x/sys/unix has no writev), stopping at the first short write.
func sysWritev(fd uintptr, vecs [][]byte) (int, error) {
	total := 0
	for _, v := range vecs {
		n, err := sysWriteFD(int(fd), v)
		total += max(n, 0)
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return total, err
		}
		if n < len(v) {
			break
		}
	}
	return total, nil
}
