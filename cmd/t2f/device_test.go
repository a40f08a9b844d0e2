//go:build !cuda

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The default (pure Go) build refuses --device cuda with a usage error that
// points at t2f-cuda, and rejects unknown devices, in every command that
// takes the flag.
func TestDeviceFlagDefaultBuild(t *testing.T) {
	dir := t.TempDir()
	cmds := map[string][]string{
		"bench train": {"bench", "train", "--model", "lenet", "--batch-size", "2", "--rounds", "1", "--min-round", "1ms"},
		"train":       {"train", "--train", dir, "--val", dir, "--out", dir + "/run", "--model", "lenet"},
	}
	for name, base := range cmds {
		for _, tc := range []struct{ device, want string }{
			{"cuda", "built without CUDA; use t2f-cuda"},
			{"cuda:1", "built without CUDA"},
			{"cuda:x", `--device "cuda:x": want cuda:N`},
			{"tpu", `--device "tpu": want cpu, cuda or cuda:N`},
		} {
			var out, errb bytes.Buffer
			args := append(append([]string{"t2f"}, base...), "--device", tc.device)
			code := run(context.Background(), args, &out, &errb)
			if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("%s --device %s: exit %d, stderr %q; want exit %d mentioning %q", name, tc.device, code, errb.String(), exitUsage, tc.want)
			}
		}
	}
}
