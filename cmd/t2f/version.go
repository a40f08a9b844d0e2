package main

import (
	"runtime/debug"

	"github.com/t2f/t2f/internal/provenance"
)

// buildStamp names the code of this binary: its commit and whether the work
// tree was modified (`t2f --version`; stamped into config.yaml, epochs.csv,
// results.json and the reports).
func buildStamp() provenance.Stamp {
	info, _ := debug.ReadBuildInfo()
	return provenance.FromBuildInfo(info)
}
