// Package checkpoint resolves the model a checkpoint describes, for running
// it (t2f features): which network, width, head, τ and class count, from
// the file and what surrounds it, and the input normalisation, from the run
// or the benchmark.
//
// A checkpoint is a t2f best/last.safetensors (its t2f.* metadata describe
// the network), a safetensors state_dict (safetensors.torch.save_file) or a
// torch.save file (.pth/.ckpt/.pt, zip or legacy, read by the restricted
// unpickler of formats/pth: nothing in the file is executed). The settings
// are merged, in increasing priority, from
//
//  1. the tensor names and shapes (nn.Describe: architecture, width, input
//     channels, classes, the T2FNorm head when the file holds "tau"),
//  2. the checkpoint's t2f metadata,
//  3. the run's config.yaml beside the checkpoint (train.ConfigFile),
//  4. the caller's Options (the command-line flags).
//
// An option that contradicts a value a file states (metadata, config.yaml,
// the file's tau) is refused, as is a file whose network cannot be told
// (ErrSettings: what to give is in the message). Names may carry
// DataParallel's "module.", "net." and OpenOOD's T2FNormNet "backbone.";
// OpenOOD's T2FNorm files store τ as the buffer "tau", older ones do not,
// and then τ must be given.
//
// Network runs the resolved model for extraction: an nn.Model in eval mode
// as a features.Network (and features.ExtraNetwork for the --extra
// methods), so the engine meets feature extraction in this one place.
//
// Imported by cmd/t2f only; it imports train (config.yaml), train/nn,
// formats/*, shards (the inputs' shape and class names) and features (the
// interfaces Network implements).
package checkpoint
