package planner

// rng is a small seeded generator (xorshift64*), one per worker: the search draws millions of numbers and must not
// share or lock a source.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng {
	// splitmix64 of the seed, so that close seeds give unrelated streams and zero is a valid seed.
	z := seed + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	if z == 0 {
		z = 1
	}
	return &rng{s: z}
}

func (r *rng) next() uint64 {
	r.s ^= r.s >> 12
	r.s ^= r.s << 25
	r.s ^= r.s >> 27
	return r.s * 2685821657736338717
}

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int { return int((r.next() >> 33) % uint64(n)) }

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }
