// Package backend defines the seam between the network code (package nn) and
// the hardware that runs it: the Tensor handle and the Backend interface, the
// small set of operations every model in t2f is built from.
//
// Data layout: tensors are dense, row-major float32 arrays. Images and
// activations are NCHW (batch, channel, height, width); convolution weights
// are (out, in, kh, kw); linear weights are (out, in), matching PyTorch, so a
// state_dict tensor maps onto a t2f tensor byte for byte.
//
// Storage is owned by the backend that allocated the tensor: a []float32 in
// host memory for the CPU backend, device memory for a GPU backend. Code
// outside a backend never indexes a tensor's storage; it moves data with
// Backend.Upload and Backend.Download (explicit host copies). A tensor may
// only be passed to the backend that allocated it.
//
// Operation conventions, shared by every implementation:
//   - Outputs are preallocated by the caller and fully overwritten (never
//     accumulated into), so a caller that needs a sum of two gradient paths
//     adds them with Add.
//   - Shapes are the caller's responsibility: the nn package checks every
//     user-visible shape before it calls an op; an op handed inconsistent
//     shapes panics with a message naming them (a programmer error).
//   - A Backend is not safe for concurrent use; it may use several threads
//     inside one call.
//
// The conformance suite in backend/backendtest runs every op of a Backend
// against a readable float64 reference; every implementation (the CPU
// backend, and the CUDA backend behind the `cuda` build tag) must pass it.
package backend
