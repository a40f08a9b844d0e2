// Package train is the training loop: it turns a training and a validation
// split into a trained model on a compute backend, with OpenOOD's recipe
// (SGD with Nesterov momentum, weight decay on every parameter, a per-step
// cosine learning rate down to MinLR) and one of OpenOOD's training
// methods (Config.Method): the cross-entropy baseline, T2FNorm, LogitNorm
// (a loss on the normalised logits of a plain network) or Outlier Exposure
// (cross-entropy plus a uniform-target loss on an auxiliary outlier batch
// forwarded with every training batch, drawn by a positional outlier stream
// so resuming stays exact), T2FNorm with Outlier Exposure included. The engine itself lives in the sub-packages: backend (the op
// seam), backend/cpu (on the top-level kernels package) and nn (layers, models, SGD,
// checkpoints).
//
// A run directory holds:
//
//	config.yaml          the resolved Config (what the run is; its code key
//	                     names the t2f build that started it)
//	last.safetensors     weights after the last completed epoch, or at the
//	                     interruption point (OpenOOD state_dict names)
//	best.safetensors     weights of the epoch with the best validation
//	                     accuracy (ties go to the later epoch, as OpenOOD)
//	state.safetensors    optimiser momentum buffers, step count and training
//	                     position (epoch, batch, the epoch's running sums):
//	                     with last.safetensors, everything a resume needs
//	epochs.csv           one row per finished epoch (see EpochRecord), with
//	                     the build that ran it in the code column
//	diverged.json        only when the weights diverged (NaN or Inf; errors
//	                     wrap nn.ErrDiverged): the failed step, the last good
//	                     one and the error (Divergence); a resume replays the
//	                     same steps, so plans of many runs leave it out
//
// Config.Precision ("fp32" or "bf16") is the arithmetic of the convolutions
// and linear layers; the backend handed to Run must compute in it. It is in
// config.yaml and in every epochs.csv row, and a run resumes only in its own
// precision (bit for bit within it; checkpoints stay float32 either way).
//
// A run started from pretrained weights (Config.Init) records the file's
// path and SHA-256 in every checkpoint's metadata (MetaInit,
// MetaInitSHA256); a resume never rereads it.
//
// Every file is written to a temporary name and renamed. The data pipeline
// is deterministic per (seed, epoch, sample), so an interrupted run resumed
// from its run directory ends with exactly the weights of an uninterrupted
// one on the CPU backend.
//
// The package reads no Arrow and prints nothing: it gets datasets through
// augment.Dataset and reports progress through Hooks.
package train
