package whatsapp

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encoded is a w×h image in the format, half transparent for PNG.
func encoded(t *testing.T, format string, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.NRGBA{R: 200, A: uint8(255 * (x % 2))})
		}
	}
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var imageTests = []struct {
	name          string
	data          func(t *testing.T) []byte
	width, height uint32 // 0: not an image
	thumbW        int    // 0: no thumbnail
	thumbH        int
}{
	{"landscape jpeg", func(t *testing.T) []byte { return encoded(t, "jpeg", 640, 480) }, 640, 480, 72, 54},
	{"portrait png", func(t *testing.T) []byte { return encoded(t, "png", 300, 900) }, 300, 900, 24, 72},
	{"webp", func(t *testing.T) []byte { return readTestdata(t, "photo.webp") }, 320, 240, 72, 54},
	{"smaller than a thumbnail stays its size", func(t *testing.T) []byte { return encoded(t, "png", 10, 4) }, 10, 4, 10, 4},
	{"a sliver keeps a pixel", func(t *testing.T) []byte { return encoded(t, "png", 1000, 2) }, 1000, 2, 72, 1},
	{"not an image", func(t *testing.T) []byte { return []byte("RIFF....WEBPnope") }, 0, 0, 0, 0},
	{"truncated jpeg", func(t *testing.T) []byte { return encoded(t, "jpeg", 640, 480)[:600] }, 640, 480, 0, 0},
}

func TestProbeImage(t *testing.T) {
	for _, tt := range imageTests {
		t.Run(tt.name, func(t *testing.T) {
			info := probeImage(tt.data(t))
			if info.width != tt.width || info.height != tt.height {
				t.Fatalf("size %d×%d, want %d×%d", info.width, info.height, tt.width, tt.height)
			}
			if tt.thumbW == 0 {
				if info.thumbnail != nil {
					t.Fatal("a thumbnail of no image")
				}
				return
			}
			thumb, format, err := image.Decode(bytes.NewReader(info.thumbnail))
			if err != nil || format != "jpeg" {
				t.Fatalf("thumbnail is %s: %v", format, err)
			}
			if b := thumb.Bounds(); b.Dx() != tt.thumbW || b.Dy() != tt.thumbH {
				t.Errorf("thumbnail %d×%d, want %d×%d", b.Dx(), b.Dy(), tt.thumbW, tt.thumbH)
			}
		})
	}
	// A canvas too big to decode safely: its size, and no thumbnail.
	huge := encoded(t, "png", 1, 1)
	cfg := image.NewNRGBA(image.Rect(0, 0, 10000, 6000))
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, cfg); err == nil {
		huge = buf.Bytes()
	}
	if info := probeImage(huge); info.width != 10000 || info.thumbnail != nil {
		t.Errorf("huge image: %d×%d, %d bytes of thumbnail", info.width, info.height, len(info.thumbnail))
	}
}

// amr is an AMR file of n 20 ms frames of 12.2 kb/s (type 7, 32 bytes).
func amr(wide bool, n int) []byte {
	b := []byte("#!AMR\n")
	frame := append([]byte{7 << 3}, make([]byte, 31)...)
	if wide {
		b = []byte("#!AMR-WB\n")
		frame = append([]byte{8 << 3}, make([]byte, 60)...) // 23.85 kb/s
	}
	for range n {
		b = append(b, frame...)
	}
	return b
}

var playTests = []struct {
	name string
	mime string
	data func(t *testing.T) []byte
	want uint32
}{
	{"ogg opus voice note", "audio/ogg; codecs=opus", func(t *testing.T) []byte { return readTestdata(t, "voice.ogg") }, 3},
	{"ogg vorbis", "audio/ogg", func(t *testing.T) []byte { return readTestdata(t, "song.oga") }, 3},
	{"m4a", "audio/mp4", func(t *testing.T) []byte { return readTestdata(t, "song.m4a") }, 3},
	{"adts aac", "audio/aac", func(t *testing.T) []byte { return readTestdata(t, "song.aac") }, 3},
	{"mp3 with an id3 tag", "audio/mpeg", func(t *testing.T) []byte { return readTestdata(t, "song.mp3") }, 4},
	{"mpeg-2 layer iii", "audio/mpeg", func(t *testing.T) []byte { return readTestdata(t, "low.mp3") }, 4},
	{"amr", "audio/amr", func(t *testing.T) []byte { return amr(false, 265) }, 5},
	{"amr-wb", "audio/amr", func(t *testing.T) []byte { return amr(true, 100) }, 2},
	{"a short sound is a second", "audio/amr", func(t *testing.T) []byte { return amr(false, 3) }, 1},
	{"mp4 video", "video/mp4", func(t *testing.T) []byte { return readTestdata(t, "clip.mp4") }, 2},
	{"mp3 bytes not said to be mp3", "audio/aac", func(t *testing.T) []byte { return readTestdata(t, "song.mp3") }, 0},
	{"truncated ogg header", "audio/ogg", func(t *testing.T) []byte { return readTestdata(t, "voice.ogg")[:40] }, 0},
	{"mp4 without a movie header", "audio/mp4", func(t *testing.T) []byte { return readTestdata(t, "song.m4a")[:32] }, 0},
	{"noise", "audio/mpeg", func(t *testing.T) []byte { return bytes.Repeat([]byte{0x12, 0x34}, 500) }, 0},
	{"nothing", "audio/ogg", func(t *testing.T) []byte { return nil }, 0},
}

func TestPlaySeconds(t *testing.T) {
	for _, tt := range playTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := playSeconds(tt.mime, tt.data(t)); got != tt.want {
				t.Errorf("got %d s, want %d s", got, tt.want)
			}
		})
	}
}
