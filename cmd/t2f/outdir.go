package main

import (
	"fmt"

	"github.com/t2f/t2f/internal/atomicfile"
	"github.com/t2f/t2f/internal/dirlock"
)

// lockOut locks the output directory dir of command what for this process
// (creating it when missing) and removes the temporary files a killed run
// left there. Every command that writes a directory calls it first; train
// and pipeline build lock inside their library calls.
func lockOut(what, dir string) (*dirlock.Lock, error) {
	l, err := dirlock.Acquire(dir, "t2f "+what)
	if err != nil {
		return nil, fmt.Errorf("%s: --out: %w", what, err)
	}
	if err := atomicfile.RemoveTemps(dir); err != nil {
		l.Release()
		return nil, fmt.Errorf("%s: --out: %w", what, err)
	}
	return l, nil
}
