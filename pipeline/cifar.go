package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CIFAR record layout: label byte(s), then 1024 red, 1024 green and 1024 blue
// bytes, each plane 32 rows of 32 pixels.
const (
	cifarSide   = 32
	cifarPixels = 3 * cifarSide * cifarSide
)

var cifar10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

var cifar100Fine = strings.Fields(`apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus
butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur
dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster
man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree
plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake
spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle
wardrobe whale willow_tree wolf woman worm`)

var cifar100Coarse = strings.Fields(`aquatic_mammals fish flowers food_containers fruit_and_vegetables
household_electrical_devices household_furniture insects large_carnivores large_man-made_outdoor_things
large_natural_outdoor_scenes large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles
small_mammals trees vehicles_1 vehicles_2`)

// ParseCIFAR checks a CIFAR binary file: a whole number of records of
// labelBytes label bytes (1 for CIFAR-10, 2 for CIFAR-100: coarse, fine)
// plus 3072 pixel bytes, every label byte below the matching limit in
// nClasses (one limit per label byte). It returns the record count.
func ParseCIFAR(data []byte, labelBytes int, nClasses []int) (int, error) {
	if labelBytes != len(nClasses) || labelBytes < 1 {
		panic("pipeline: ParseCIFAR: one class count per label byte")
	}
	rec := labelBytes + cifarPixels
	if len(data) == 0 {
		return 0, fmt.Errorf("empty file, want records of %d bytes", rec)
	}
	if len(data)%rec != 0 {
		return 0, fmt.Errorf("truncated: %d bytes is not a whole number of %d-byte records (record %d has %d bytes)",
			len(data), rec, len(data)/rec, len(data)%rec)
	}
	n := len(data) / rec
	for i := range n {
		for k := range labelBytes {
			if l := data[i*rec+k]; int(l) >= nClasses[k] {
				return 0, fmt.Errorf("record %d: label %d out of range [0, %d)", i, l, nClasses[k])
			}
		}
	}
	return n, nil
}

// CIFAR is a set of CIFAR-10 or CIFAR-100 binary files read in order.
type CIFAR struct {
	files   []string
	data    [][]byte
	starts  []int // first record of each file
	n       int
	recLen  int
	labelAt int // offset of the used label byte in a record
	classes []string
}

// OpenCIFAR10 opens data_batch_1..5.bin (split "train") or test_batch.bin
// (split "test") in input, or input itself when it is a .bin file.
// batches.meta.txt beside the files, if present, names the classes.
func OpenCIFAR10(input, split string) (*CIFAR, error) {
	files, err := cifarFiles(input, split, []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}, []string{"test_batch.bin"})
	if err != nil {
		return nil, err
	}
	classes := readNames(filepath.Join(filepath.Dir(files[0]), "batches.meta.txt"), cifar10Classes)
	return openCIFAR(files, 1, []int{len(classes)}, 0, classes)
}

// OpenCIFAR100 opens train.bin or test.bin (or input itself when it is a
// .bin file). coarse selects the 20 superclass labels instead of the 100
// fine labels. fine_label_names.txt / coarse_label_names.txt beside the
// files, if present, name the classes.
func OpenCIFAR100(input, split string, coarse bool) (*CIFAR, error) {
	files, err := cifarFiles(input, split, []string{"train.bin"}, []string{"test.bin"})
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(files[0])
	fine := readNames(filepath.Join(dir, "fine_label_names.txt"), cifar100Fine)
	crs := readNames(filepath.Join(dir, "coarse_label_names.txt"), cifar100Coarse)
	classes, at := fine, 1
	if coarse {
		classes, at = crs, 0
	}
	return openCIFAR(files, 2, []int{len(crs), len(fine)}, at, classes)
}

func cifarFiles(input, split string, train, test []string) ([]string, error) {
	if st, err := os.Stat(input); err == nil && !st.IsDir() {
		return []string{input}, nil
	}
	var names []string
	switch split {
	case "train":
		names = train
	case "test":
		names = test
	default:
		return nil, fmt.Errorf("pipeline: cifar: split %q, want train or test", split)
	}
	var files []string
	for _, n := range names {
		p := filepath.Join(input, n)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("pipeline: cifar: %w", err)
		}
		files = append(files, p)
	}
	return files, nil
}

// readNames reads one name per non-empty line, or returns def when the file
// does not exist or is unreadable.
func readNames(path string, def []string) []string {
	b, err := readRegular(path, MaxDataFileBytes)
	if err != nil {
		return def
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

func openCIFAR(files []string, labelBytes int, nClasses []int, labelAt int, classes []string) (*CIFAR, error) {
	c := &CIFAR{files: files, recLen: labelBytes + cifarPixels, labelAt: labelAt, classes: classes}
	for _, f := range files {
		b, err := readRegular(f, MaxDataFileBytes)
		if err != nil {
			return nil, fmt.Errorf("pipeline: cifar: %w", err)
		}
		n, err := ParseCIFAR(b, labelBytes, nClasses)
		if err != nil {
			return nil, fmt.Errorf("pipeline: cifar %q: %w", f, err)
		}
		c.data = append(c.data, b)
		c.starts = append(c.starts, c.n)
		c.n += n
	}
	return c, nil
}

func (c *CIFAR) Classes() []string { return c.classes }
func (c *CIFAR) Len() int          { return c.n }
func (c *CIFAR) Inputs() []string  { return c.files }

func (c *CIFAR) locate(i int) (int, []byte) {
	f := len(c.starts) - 1
	for c.starts[f] > i {
		f--
	}
	j := i - c.starts[f]
	return f, c.data[f][j*c.recLen : (j+1)*c.recLen]
}

func (c *CIFAR) Item(i int) Item {
	f, rec := c.locate(i)
	return Item{Source: filepath.Base(c.files[f]) + "#" + strconv.Itoa(i-c.starts[f]), Label: int32(rec[c.labelAt])}
}

// Load returns record i as a 32×32 RGB image (planes interleaved to HWC).
func (c *CIFAR) Load(i int) (Image, error) {
	_, rec := c.locate(i)
	px := rec[c.recLen-cifarPixels:]
	const plane = cifarSide * cifarSide
	out := Image{W: cifarSide, H: cifarSide, C: 3, Pix: make([]uint8, cifarPixels)}
	for p := range plane {
		out.Pix[3*p] = px[p]
		out.Pix[3*p+1] = px[plane+p]
		out.Pix[3*p+2] = px[2*plane+p]
	}
	return out, nil
}
