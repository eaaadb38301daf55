package whatsapp

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png" // decodes PNG images for their thumbnails
	"strings"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // decodes WebP images for their thumbnails
)

// thumbnailSide is the longest side, in pixels, of the JPEG thumbnail an
// image goes with: WhatsApp's apps show it, blurred, until the image is
// downloaded.
const thumbnailSide = 72

// maxThumbnailPixels bounds the images apiws decodes for a thumbnail: a
// small file can claim a huge canvas.
const maxThumbnailPixels = 50_000_000

// imageInfo is an image's size and its JPEG thumbnail; zero (no
// thumbnail) when the data does not decode as a JPEG, PNG or WebP image.
type imageInfo struct {
	width, height uint32
	thumbnail     []byte
}

// probeImage reads an image's size and makes its thumbnail, no longer
// than thumbnailSide on either side, on white where the image is
// transparent (JPEG has no transparency).
func probeImage(data []byte) imageInfo {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return imageInfo{}
	}
	info := imageInfo{width: uint32(cfg.Width), height: uint32(cfg.Height)}
	if cfg.Width*cfg.Height > maxThumbnailPixels {
		return info
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return info
	}
	w, h := thumbnailSide, thumbnailSide
	if cfg.Width >= cfg.Height {
		h = max(1, cfg.Height*thumbnailSide/cfg.Width)
	} else {
		w = max(1, cfg.Width*thumbnailSide/cfg.Height)
	}
	w, h = min(w, cfg.Width), min(h, cfg.Height)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Over, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 60}); err != nil {
		return info
	}
	info.thumbnail = buf.Bytes()
	return info
}

// playSeconds is how long an audio or video file of the MIME type plays,
// rounded to the nearest second (at least 1 for any sound): read from Ogg
// (Opus, Vorbis), MP4 (M4A, 3GP), ADTS AAC, AMR and, of type audio/mpeg,
// MP3 files; 0 when the data is none of them.
func playSeconds(mimeType string, data []byte) uint32 {
	var secs float64
	switch {
	case bytes.HasPrefix(data, []byte("OggS")):
		secs = oggSeconds(data)
	case len(data) >= 8 && string(data[4:8]) == "ftyp":
		secs = mp4Seconds(data)
	case bytes.HasPrefix(data, []byte("#!AMR")):
		secs = amrSeconds(data)
	case len(data) >= 2 && data[0] == 0xFF && data[1]&0xF6 == 0xF0:
		secs = adtsSeconds(data)
	case strings.HasPrefix(mimeType, "audio/mpeg"):
		// MP3 has no signature: only a file said to be one is read so.
		secs = mp3Seconds(data)
	}
	if secs <= 0 {
		return 0
	}
	return uint32(max(1, secs+0.5))
}

// oggSeconds reads the last granule position of an Ogg file's first
// stream: samples at 48 kHz after the pre-skip for Opus, at the stream's
// rate for Vorbis.
func oggSeconds(data []byte) float64 {
	var serial uint32
	var rate float64
	var skip, last int64
	first := true
	for len(data) >= 27 && bytes.HasPrefix(data, []byte("OggS")) {
		nsegs := int(data[26])
		if len(data) < 27+nsegs {
			break
		}
		size := 27 + nsegs
		for _, s := range data[27 : 27+nsegs] {
			size += int(s)
		}
		if len(data) < size {
			break
		}
		granule := int64(binary.LittleEndian.Uint64(data[6:14]))
		pageSerial := binary.LittleEndian.Uint32(data[14:18])
		body := data[27+nsegs : size]
		switch {
		case first:
			first, serial = false, pageSerial
			switch {
			case bytes.HasPrefix(body, []byte("OpusHead")) && len(body) >= 12:
				rate, skip = 48000, int64(binary.LittleEndian.Uint16(body[10:12]))
			case bytes.HasPrefix(body, []byte("\x01vorbis")) && len(body) >= 16:
				rate = float64(binary.LittleEndian.Uint32(body[12:16]))
			default:
				return 0
			}
		case pageSerial == serial && granule >= 0:
			last = granule
		}
		data = data[size:]
	}
	if rate == 0 || last <= skip {
		return 0
	}
	return float64(last-skip) / rate
}

// mp4Seconds reads the duration of an MP4 (M4A) file's movie header:
// moov/mvhd.
func mp4Seconds(data []byte) float64 {
	moov := mp4Box(data, "moov")
	mvhd := mp4Box(moov, "mvhd")
	if len(mvhd) < 4 {
		return 0
	}
	var scale, duration uint64
	switch mvhd[0] {
	case 0:
		if len(mvhd) < 20 {
			return 0
		}
		scale, duration = uint64(binary.BigEndian.Uint32(mvhd[12:16])), uint64(binary.BigEndian.Uint32(mvhd[16:20]))
	case 1:
		if len(mvhd) < 32 {
			return 0
		}
		scale, duration = uint64(binary.BigEndian.Uint32(mvhd[20:24])), binary.BigEndian.Uint64(mvhd[24:32])
	}
	if scale == 0 {
		return 0
	}
	return float64(duration) / float64(scale)
}

// mp4Box returns the body of the first box of the type among the boxes
// data holds; nil if there is none.
func mp4Box(data []byte, typ string) []byte {
	for len(data) >= 8 {
		size, head := uint64(binary.BigEndian.Uint32(data[:4])), uint64(8)
		switch size {
		case 0: // to the end of the file
			size = uint64(len(data))
		case 1:
			if len(data) < 16 {
				return nil
			}
			size, head = binary.BigEndian.Uint64(data[8:16]), 16
		}
		if size < head || size > uint64(len(data)) {
			return nil
		}
		if string(data[4:8]) == typ {
			return data[head:size]
		}
		data = data[size:]
	}
	return nil
}

// amrFrames are the sizes of AMR and AMR-WB frames (with their header
// byte) by frame type; 0 for the reserved types.
var (
	amrFrames   = [16]int{13, 14, 16, 18, 20, 21, 27, 32, 6, 0, 0, 0, 0, 0, 0, 1}
	amrWBFrames = [16]int{18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 0, 0, 0, 0, 1, 1}
)

// amrSeconds counts the 20 ms frames of an AMR or AMR-WB file.
func amrSeconds(data []byte) float64 {
	sizes := amrFrames
	switch {
	case bytes.HasPrefix(data, []byte("#!AMR-WB\n")):
		data, sizes = data[9:], amrWBFrames
	case bytes.HasPrefix(data, []byte("#!AMR\n")):
		data = data[6:]
	default:
		return 0
	}
	frames := 0
	for len(data) > 0 {
		size := sizes[data[0]>>3&0x0F]
		if size == 0 || size > len(data) {
			break
		}
		frames++
		data = data[size:]
	}
	return float64(frames) * 0.020
}

// adtsRates are the sampling rates of ADTS headers, by index.
var adtsRates = [13]float64{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// adtsSeconds counts the samples of an ADTS AAC stream: 1024 a raw data
// block.
func adtsSeconds(data []byte) float64 {
	var samples, rate float64
	for len(data) >= 7 && data[0] == 0xFF && data[1]&0xF6 == 0xF0 {
		idx := int(data[2] >> 2 & 0x0F)
		size := int(data[3]&0x03)<<11 | int(data[4])<<3 | int(data[5]>>5)
		if idx >= len(adtsRates) || size < 7 || size > len(data) {
			break
		}
		rate = adtsRates[idx]
		samples += float64(int(data[6]&0x03)+1) * 1024
		data = data[size:]
	}
	if rate == 0 {
		return 0
	}
	return samples / rate
}

// MPEG audio tables: bit rates in kb/s by version row (MPEG-1, MPEG-2 and
// 2.5) and layer (I, II, III), sample rates by version.
var (
	mp3Rates = [2][3][16]int{
		{
			{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
			{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
			{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
		},
		{
			{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
			{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
			{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		},
	}
	mp3SampleRates = map[byte][3]int{3: {44100, 48000, 32000}, 2: {22050, 24000, 16000}, 0: {11025, 12000, 8000}}
)

// mp3Seconds adds up the frames of an MPEG audio file (after its ID3v2
// tag, if any); 0 when no frame is found.
func mp3Seconds(data []byte) float64 {
	if len(data) >= 10 && bytes.HasPrefix(data, []byte("ID3")) {
		size := int(data[6]&0x7F)<<21 | int(data[7]&0x7F)<<14 | int(data[8]&0x7F)<<7 | int(data[9]&0x7F)
		size += 10
		if data[5]&0x10 != 0 { // footer
			size += 10
		}
		if size > len(data) {
			return 0
		}
		data = data[size:]
	}
	var secs float64
	for len(data) >= 4 {
		n, d := mp3Frame(data)
		if n == 0 {
			if secs > 0 {
				break // the end: an ID3v1 tag, or trailing bytes
			}
			data = data[1:] // junk before the first frame
			continue
		}
		secs += d
		data = data[n:]
	}
	return secs
}

// mp3Frame reads the MPEG audio frame header at the start of data and
// returns the frame's length and duration; 0 if there is none.
func mp3Frame(data []byte) (int, float64) {
	if data[0] != 0xFF || data[1]&0xE0 != 0xE0 {
		return 0, 0
	}
	version, layer := data[1]>>3&0x03, data[1]>>1&0x03
	rateIdx, srIdx, pad := int(data[2]>>4), int(data[2]>>2&0x03), int(data[2]>>1&0x01)
	rates, ok := mp3SampleRates[version]
	if !ok || layer == 0 || rateIdx == 0 || rateIdx == 15 || srIdx == 3 {
		return 0, 0
	}
	row, l := 1, 3-int(layer) // layer bits: 3 is layer I
	if version == 3 {
		row = 0
	}
	bitrate, sr := mp3Rates[row][l][rateIdx]*1000, rates[srIdx]
	var size, samples int
	switch {
	case l == 0:
		size, samples = (12*bitrate/sr+pad)*4, 384
	case l == 1 || version == 3:
		size, samples = 144*bitrate/sr+pad, 1152
	default: // layer III of MPEG-2 and 2.5
		size, samples = 72*bitrate/sr+pad, 576
	}
	if size < 4 || size > len(data) {
		return 0, 0
	}
	return size, float64(samples) / float64(sr)
}
