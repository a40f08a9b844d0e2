package pipeline

import (
	"errors"
	"testing"
)

func TestParamsValidate(t *testing.T) {
	good := Params{Source: "synthetic", Input: "gaussian", Count: 4, Out: "d", Size: 16, Channels: 1, Resample: "bilinear", Workers: 1, ShardRows: 8}
	if err := good.Validate(); err != nil {
		t.Fatalf("good params: %v", err)
	}
	for _, tc := range []struct {
		name, param string
		edit        func(p *Params)
	}{
		{"unknown source", "source", func(p *Params) { p.Source = "tarball" }},
		{"no out", "out", func(p *Params) { p.Out = "" }},
		{"zero size", "size", func(p *Params) { p.Size = 0 }},
		{"resize for a drawn source", "resize", func(p *Params) { p.Resize = 40 }},
		{"resize below size", "resize", func(p *Params) { p.Source, p.Resize = "imglist", 8 }},
		{"two channels", "channels", func(p *Params) { p.Channels = 2 }},
		{"unknown filter", "resample", func(p *Params) { p.Resample = "nearest" }},
		{"no workers", "workers", func(p *Params) { p.Workers = 0 }},
		{"no shard rows", "shard-rows", func(p *Params) { p.ShardRows = 0 }},
		{"negative limit", "limit", func(p *Params) { p.Limit = -1 }},
		{"bad part", "part", func(p *Params) { p.Part, p.Holdout = "middle", 2 }},
		{"part without holdout", "part", func(p *Params) { p.Part = "holdout" }},
		{"no count", "count", func(p *Params) { p.Count = 0 }},
		{"coarse labels of mnist", "coarse", func(p *Params) { p.Source, p.Coarse = "mnist", true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.edit(&p)
			var pe *ParamError
			if err := p.Validate(); !errors.As(err, &pe) || pe.Param != tc.param {
				t.Errorf("Validate() = %v, want a ParamError for %s", err, tc.param)
			}
		})
	}
}
