// Package pipeline turns image datasets into shard directories (package
// shards): it owns the dataset sources, image decoding, the build-time
// preprocessing and the build driver.
//
// # Sources
//
// Every input format is one file implementing [Source]: a list of records,
// each with a label and a provenance string, and a Load method that decodes
// record i into an [Image] (uint8, HWC, 1 or 3 channels). Load is safe for
// concurrent use; the driver calls it from a bounded goroutine pool.
//
//	mnist        IDX files (train-/t10k-{images-idx3,labels-idx1}-ubyte[.gz]), idx.go
//	cifar10      CIFAR-10 binary batches (data_batch_{1..5}.bin, test_batch.bin), cifar.go
//	cifar100     CIFAR-100 binary (train.bin, test.bin; coarse+fine labels), cifar.go
//	imagefolder  root/<class>/**/<image>, classes sorted by name, imagefolder.go
//	imglist      OpenOOD image lists: "relative/path label" per line, imglist.go
//	synthetic    seeded gaussian / uniform / blobs noise (label −1), synthetic.go
//	letters      seeded notMNIST-like letters A–J from fonts (label −1), letters.go
//	aux-letters  the letters K–Y without digit look-alikes, Outlier Exposure's
//	             auxiliary outliers disjoint from the letters sets, letters.go
//
// # Preprocessing
//
// As OpenOOD's test transform (Convert → Resize(size) → CenterCrop(size)):
// convert to the target channel count (grey → RGB replicates; RGB → grey uses
// PIL's "L" weights 299/587/114 in PIL's fixed point), resize the shorter
// side to size (other side int(size·long/short), as torchvision) with
// PIL-style antialiased bilinear (triangle filter widened by the scale, a
// weighted area average when shrinking) or a box (pure area average) filter,
// then centre-crop with torchvision's rounding. Images already size×size are
// not resampled at all, so MNIST at 28 and CIFAR at 32 stay bit-exact.
//
// # Build
//
// [Build] selects records (--limit, then a seeded --holdout split), decodes
// them on a pool of Workers goroutines and writes them in input order, so
// the shards are byte-identical for any worker count. The sample id is the
// record's index in the source's input order. Bad input returns an error
// naming the file and line/record and leaves no shard behind; an interrupted
// build keeps its complete shards and a rerun with the same parameters and
// unchanged inputs continues from them.
package pipeline
