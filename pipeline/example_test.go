package pipeline_test

import (
	"fmt"
	"strings"

	"github.com/t2f/t2f/pipeline"
)

func ExampleParseImgList() {
	list := `cifar10/test/airplane/0001.png 0
tin/test/n01443537_0.JPEG -1
../outside.png 3
`
	_, err := pipeline.ParseImgList(strings.NewReader(list))
	fmt.Println(err)
	entries, _ := pipeline.ParseImgList(strings.NewReader(strings.Join(strings.Split(list, "\n")[:2], "\n")))
	for _, e := range entries {
		fmt.Println(e.Line, e.Path, e.Label)
	}
	// Output:
	// line 3: path "../outside.png" escapes the data root (absolute, "..", backslash or empty paths are not allowed)
	// 1 cifar10/test/airplane/0001.png 0
	// 2 tin/test/n01443537_0.JPEG -1
}

func ExampleSelect() {
	// --limit 6: the first six records.
	all, _ := pipeline.Select(10, 6, 0, 0, "")
	fmt.Println(all)
	// --limit 6 --holdout 2: the two parts split those six, disjoint and in input order.
	rest, _ := pipeline.Select(10, 6, 2, 42, "rest")
	hold, _ := pipeline.Select(10, 6, 2, 42, "holdout")
	fmt.Println(len(rest), len(hold))
	// Output:
	// [0 1 2 3 4 5]
	// 4 2
}
