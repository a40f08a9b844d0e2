// Package augment owns the training and test image transforms of the OpenOOD
// protocol and the loader that turns a dataset of stored uint8 images into
// batches for the trainer.
//
// Input layout: every image is H·W·C uint8 bytes in HWC order (row-major,
// channels interleaved), the layout of the shard image column. The shape is
// passed explicitly (Shape); the Dataset interface is the only thing this
// package needs from the shards reader.
//
// Output layout (Batch): Data is N·C·H·W float32 in NCHW order (sample, then
// channel plane, then row, then column), already normalised:
// out = (float32(v)/255 − mean[c]) / std[c], computed in float32 in that
// order, exactly as torchvision's ToTensor followed by Normalize. Labels holds
// the N int32 labels and Index the N dataset rows, in batch order.
//
// Transforms (Transform, Kind):
//   - KindCrop: RandomHorizontalFlip(0.5) then RandomCrop(size, padding, fill
//     0), the OpenOOD branch for CIFAR and MNIST (padding 4).
//   - KindResizedCrop: RandomResizedCrop(size, scale, ratio, bilinear) then
//     RandomHorizontalFlip(0.5), the ImageNet branch. The resize reproduces
//     PIL's bilinear (antialiased) resampling on uint8 images bit for bit,
//     since OpenOOD feeds torchvision PIL images.
//   - KindTest: ToTensor and Normalize of the stored pixels only.
//
// Randomness: the choices for dataset row i in epoch e come from a splitmix64
// stream keyed by (seed, e, i); the order of epoch e is a Fisher–Yates
// permutation from a stream keyed by (seed, e). Nothing depends on the number
// of workers or on where an epoch was started, so a batch is bit-identical
// however it was produced. There is no package-level state.
//
// No build tags change this package; it is pure Go.
package augment
