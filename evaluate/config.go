package evaluate

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/t2f/t2f/evaluate/posthoc"
)

// Config says what to evaluate. Dataset references are "NAME" or
// "NAME:SPLIT" (see the package documentation for how they resolve).
type Config struct {
	ID      string   // ID dataset; its "train", "val" and "test" splits are found by name
	Near    []string // near-OOD sets, in table order
	Far     []string // far-OOD sets, in table order
	CSID    []string // covariate-shifted ID sets; non-empty adds the full-spectrum (FSOOD) tables
	OODVal  string   // OOD validation set for the hyper-parameter search; "" = no search
	Methods []string // posthoc method names, in output order
	// Options are passed to every posthoc method (threads for KNN/NNGuide).
	Options posthoc.Options
	// Code names the t2f build that scores (provenance.Stamp's String); it is
	// written into results.json and under the report's tables.
	Code string
	// Progress, if set, is called after each (run, method) with the number
	// done, the total and what was just finished.
	Progress func(done, total int, what string)
}

// checkConfig checks cfg before any file is read: an ID set, OOD sets,
// known methods, no dataset or method given twice.
func checkConfig(cfg *Config) error {
	if cfg.ID == "" {
		return errors.New("evaluate: no ID dataset given")
	}
	if strings.Contains(cfg.ID, ":") {
		return fmt.Errorf("evaluate: ID dataset %q: give the dataset name only; its train/val/test splits are found by name", cfg.ID)
	}
	if len(cfg.Near)+len(cfg.Far) == 0 {
		return errors.New("evaluate: no OOD sets given (near or far)")
	}
	if len(cfg.Methods) == 0 {
		return errors.New("evaluate: no methods given")
	}
	seen := map[string]string{cfg.ID: "ID"}
	check := func(role string, refs []string) error {
		for _, ref := range refs {
			name, _ := parseRef(ref)
			if name == "" {
				return fmt.Errorf("evaluate: empty %s dataset name in %q", role, ref)
			}
			if prev, ok := seen[name]; ok {
				return fmt.Errorf("evaluate: dataset %q given as %s and as %s", name, prev, role)
			}
			seen[name] = role
		}
		return nil
	}
	for _, c := range []struct {
		role string
		refs []string
	}{{"near-OOD", cfg.Near}, {"far-OOD", cfg.Far}, {"CSID", cfg.CSID}} {
		if err := check(c.role, c.refs); err != nil {
			return err
		}
	}
	known := posthoc.Names()
	for i, m := range cfg.Methods {
		if !slices.Contains(known, m) {
			return fmt.Errorf("evaluate: unknown method %q (known: %s)", m, strings.Join(known, ", "))
		}
		if slices.Contains(cfg.Methods[:i], m) {
			return fmt.Errorf("evaluate: method %q given twice", m)
		}
	}
	return nil
}

// needs is the union of what the methods read.
type needs struct{ train, val, head, aps bool }

func needsOf(methods []string) needs {
	var n needs
	for _, m := range methods {
		s, err := posthoc.NewWithOptions(m, posthoc.Options{})
		if err != nil {
			continue // checked in checkConfig
		}
		nd := s.Needs()
		n.train = n.train || nd.Train
		n.val = n.val || nd.Val
		n.head = n.head || nd.Head
		n.aps = n.aps || nd.APS
	}
	return n
}
