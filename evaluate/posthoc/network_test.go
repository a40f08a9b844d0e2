package posthoc

// networkMethods are the methods whose oracle is a network fixture
// (testdata/network/: OpenOOD's post-processors run with a real ResNet-18
// 32×32; testdata/gram/: gram on LeNet and the ResNets; testdata/gmm/: gmm),
// not the column fixture: they read columns `t2f features --extra` computes
// (odin, iodin, rankfeat, adascale_a/l, mds_ensemble, gram, gmm) or draw
// random masks (dropout).
var networkMethods = map[string]bool{
	"odin": true, "iodin": true, "rankfeat": true, "adascale_a": true, "adascale_l": true, "dropout": true,
	"mds_ensemble": true, "gram": true, "gmm": true,
}
