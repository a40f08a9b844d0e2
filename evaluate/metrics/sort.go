package metrics

// radixSort sorts keys ascending with an LSD radix sort on bytes, using tmp
// (same length) as scratch, and returns whichever of the two slices holds
// the result. Byte positions where every key has the same digit are
// skipped (the high bytes of similar-magnitude floats).
func radixSort(keys, tmp []uint64) []uint64 {
	if len(tmp) != len(keys) {
		panic("metrics: radixSort scratch length mismatch")
	}
	if len(keys) < 2 {
		return keys
	}
	var counts [8][256]int
	for _, k := range keys {
		counts[0][byte(k)]++
		counts[1][byte(k>>8)]++
		counts[2][byte(k>>16)]++
		counts[3][byte(k>>24)]++
		counts[4][byte(k>>32)]++
		counts[5][byte(k>>40)]++
		counts[6][byte(k>>48)]++
		counts[7][byte(k>>56)]++
	}
	src, dst := keys, tmp
	for pass := range 8 {
		shift := uint(8 * pass)
		c := &counts[pass]
		if c[byte(keys[0]>>shift)] == len(keys) {
			continue
		}
		sum := 0
		for d := range c {
			n := c[d]
			c[d] = sum
			sum += n
		}
		for _, k := range src {
			d := byte(k >> shift)
			dst[c[d]] = k
			c[d]++
		}
		src, dst = dst, src
	}
	return src
}
