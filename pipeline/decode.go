package pipeline

import (
	"bytes"
	"fmt"
	"image"
	_ "image/gif"  // GIF decoder
	_ "image/jpeg" // JPEG decoder
	_ "image/png"  // PNG decoder
	"path/filepath"
	"strings"

	_ "golang.org/x/image/bmp"  // BMP decoder
	_ "golang.org/x/image/webp" // WebP decoder
)

// DefaultMaxPixels is the largest image (W·H) decoded by default; larger
// headers are rejected before decoding as decompression bombs. It equals
// PIL's Image.MAX_IMAGE_PIXELS.
const DefaultMaxPixels = 89_478_485

// imageExts are the file extensions imagefolder picks up.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".bmp": true, ".webp": true}

func isImageFile(name string) bool { return imageExts[strings.ToLower(filepath.Ext(name))] }

// DecodeFile reads and decodes an image file, rejecting images whose header
// claims more than maxPixels pixels (or a zero size) before decoding.
func DecodeFile(path string, maxPixels int) (Image, error) {
	b, err := readRegular(path, MaxImageFileBytes)
	if err != nil {
		return Image{}, err
	}
	return DecodeBytes(b, maxPixels)
}

// DecodeBytes decodes an encoded image (PNG, JPEG, GIF, BMP, WebP) with the
// same checks as [DecodeFile].
func DecodeBytes(b []byte, maxPixels int) (Image, error) {
	if img, handled, err := decodePNGFast(b, maxPixels); handled {
		return img, err
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Image{}, fmt.Errorf("undecodable image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Image{}, fmt.Errorf("%s image of %dx%d pixels", format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return Image{}, fmt.Errorf("%s image of %dx%d pixels exceeds the limit of %d pixels (possible decompression bomb; raise --max-pixels if it is real)",
			format, cfg.Width, cfg.Height, maxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return Image{}, fmt.Errorf("undecodable %s image: %w", format, err)
	}
	return fromImage(img), nil
}
