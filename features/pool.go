package features

import "fmt"

// Pool is a Network over several instances of one network (e.g. one engine
// model per core), safe for concurrent use: each Forward call takes a free
// instance, blocking until one is free. Run Extract with Options.Workers =
// Size() to keep every instance busy. The instances must be the same network
// (the same weights); Pool checks only that their shapes agree.
type Pool struct {
	first Network
	free  chan Network
}

// NewPool returns a Pool over nets (at least one).
func NewPool(nets ...Network) (*Pool, error) {
	if len(nets) == 0 {
		return nil, fmt.Errorf("features: pool of no networks")
	}
	p := &Pool{first: nets[0], free: make(chan Network, len(nets))}
	c, h, w := nets[0].InputShape()
	for i, n := range nets {
		nc, nh, nw := n.InputShape()
		if nc != c || nh != h || nw != w || n.Dim() != p.Dim() || n.NumClasses() != p.NumClasses() {
			return nil, fmt.Errorf("features: pool network %d has input [N %d %d %d], dim %d, %d classes; network 0 has [N %d %d %d], dim %d, %d classes",
				i, nc, nh, nw, n.Dim(), n.NumClasses(), c, h, w, p.Dim(), p.NumClasses())
		}
		p.free <- n
	}
	return p, nil
}

// Size is the number of instances.
func (p *Pool) Size() int { return cap(p.free) }

// InputShape implements Network.
func (p *Pool) InputShape() (c, h, w int) { return p.first.InputShape() }

// Dim implements Network.
func (p *Pool) Dim() int { return p.first.Dim() }

// NumClasses implements Network.
func (p *Pool) NumClasses() int { return p.first.NumClasses() }

// Forward runs the batch on a free instance.
func (p *Pool) Forward(x []float32, n int, feature, logits, logitsOOD []float32) error {
	net := <-p.free
	defer func() { p.free <- net }()
	return net.Forward(x, n, feature, logits, logitsOOD)
}
