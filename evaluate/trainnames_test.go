package evaluate_test

import (
	"testing"

	"github.com/t2f/t2f/evaluate"
	"github.com/t2f/t2f/train"
)

// The training methods evaluate reads from feature files are the names t2f
// train records (train.Method*): one name for each method, spelled in
// evaluate so that scoring need not import the training engine.
func TestTrainingMethodsAreTrainsNames(t *testing.T) {
	for _, c := range []struct{ evaluate, train string }{
		{evaluate.TrainCE, train.MethodCE},
		{evaluate.TrainT2FNorm, train.MethodT2FNorm},
		{evaluate.TrainLogitNorm, train.MethodLogitNorm},
		{evaluate.TrainOE, train.MethodOE},
		{evaluate.TrainT2FNormOE, train.MethodT2FNormOE},
	} {
		if c.evaluate != c.train {
			t.Errorf("evaluate names a training method %q, train %q", c.evaluate, c.train)
		}
	}
	if len(train.Methods) != 5 {
		t.Errorf("train has %d methods %q, evaluate names 5: name the new one in evaluate/training.go", len(train.Methods), train.Methods)
	}
}
