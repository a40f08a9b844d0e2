package main

import (
	"os"
	"os/exec"

	"github.com/t2f/t2f/train"
	"github.com/t2f/t2f/train/nn"
)

// demoHead is how the plan trains one training method (a train.Method*):
// its run folder prefix (short), its t2f train arguments and a description.
type demoHead struct {
	method, short, desc string
	args                []string
}

// demoHeads lists the training methods' heads in order; ce and t2fnorm keep
// the --head arguments (and run names ce-, t2f-) of the two-model demo, so
// runs made before the other methods existed stay up to date.
func demoHeads(methods []string, aux string) []demoHead {
	if len(methods) == 0 {
		methods = []string{train.MethodCE, train.MethodT2FNorm}
	}
	var hs []demoHead
	for _, m := range methods {
		switch m {
		case train.MethodCE:
			hs = append(hs, demoHead{m, "ce", nn.HeadLinear + " head", []string{"--head", nn.HeadLinear}})
		case train.MethodT2FNorm:
			hs = append(hs, demoHead{m, "t2f", nn.HeadT2FNorm + " head", []string{"--head", nn.HeadT2FNorm}})
		case train.MethodLogitNorm:
			hs = append(hs, demoHead{m, "logitnorm", "LogitNorm", []string{"--method", m}})
		case train.MethodOE:
			hs = append(hs, demoHead{m, "oe", "Outlier Exposure on " + aux, []string{"--method", m, "--outliers", aux}})
		}
	}
	return hs
}

// demoTrainMethods are the training methods t2f demo --methods takes.
var demoTrainMethods = []string{train.MethodCE, train.MethodLogitNorm, train.MethodOE, train.MethodT2FNorm}

func installSkip(o demoOptions) string {
	if isDir(o.FMNISTDir) && isDir("/usr/share/fonts/truetype/dejavu") {
		return "already installed"
	}
	if os.Geteuid() != 0 {
		return "not root: install dataset-fashion-mnist and fonts-dejavu-core yourself to get every set"
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "no apt-get on this machine: the demo runs without Fashion-MNIST (and with the Go fonts only)"
	}
	return ""
}
