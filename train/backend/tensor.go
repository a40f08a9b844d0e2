package backend

import (
	"fmt"
	"strconv"
	"strings"
)

// Shape is a tensor's extent along each axis, outermost first.
type Shape []int

// Numel is the number of elements, the product of the extents (1 for a
// scalar, i.e. an empty shape).
func (s Shape) Numel() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether s and o have the same rank and extents.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// String formats the shape like PyTorch's size: [8 3 32 32].
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Clone returns a copy of s that does not share memory with it.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Tensor is a handle to a dense float32 array owned by a backend. Its storage
// is opaque outside the backend that made it (see the package comment).
type Tensor struct {
	shape   Shape
	storage any
}

// NewTensor wraps backend-owned storage in a tensor handle. It is meant for
// Backend implementations; storage must hold shape.Numel() elements.
func NewTensor(shape Shape, storage any) *Tensor {
	return &Tensor{shape: shape.Clone(), storage: storage}
}

// Shape returns the tensor's shape. The caller must not modify it.
func (t *Tensor) Shape() Shape { return t.shape }

// Numel is the number of elements.
func (t *Tensor) Numel() int { return t.shape.Numel() }

// Storage returns the backend-owned storage; only the owning backend may
// interpret it.
func (t *Tensor) Storage() any { return t.storage }

// Reshape returns a handle with a new shape over the same storage (no copy).
// The element counts must agree.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	s := Shape(shape)
	if s.Numel() != t.shape.Numel() {
		return nil, fmt.Errorf("backend: reshape %v to %v: element counts differ", t.shape, s)
	}
	return &Tensor{shape: s.Clone(), storage: t.storage}, nil
}

// String describes the tensor's shape (not its data).
func (t *Tensor) String() string { return "tensor" + t.shape.String() }
