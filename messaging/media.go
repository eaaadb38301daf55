package messaging

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/publicnet"
	"github.com/apiws/apiws/whatsapp"
)

// mediaRule is what WhatsApp accepts for one kind of media.
type mediaRule struct {
	maxBytes int64
	types    []string // accepted MIME types; a trailing "/" accepts a family
}

// mediaRules follow WhatsApp's published limits.
var mediaRules = map[apiws.MessageKind]mediaRule{
	apiws.KindImage:    {5 << 20, []string{"image/jpeg", "image/png", "image/webp"}},
	apiws.KindVideo:    {16 << 20, []string{"video/mp4", "video/3gpp"}},
	apiws.KindAudio:    {16 << 20, []string{"audio/aac", "audio/mp4", "audio/mpeg", "audio/amr", "audio/ogg"}},
	apiws.KindDocument: {100 << 20, []string{"application/", "text/", "image/", "audio/", "video/"}},
	apiws.KindSticker:  {1 << 20, []string{"image/webp"}},
}

// Media fetching limits.
const (
	fetchTimeout   = 20 * time.Second
	maxRedirects   = 3
	maxFetchedSize = 24 << 20 // beyond what a 32 MiB request could carry anyway
)

// loadMedia checks media input and returns the bytes to send: decoded from
// base64, or fetched from an https URL.
func (s *Service) loadMedia(ctx context.Context, in *apiws.MediaInput) (*whatsapp.Media, error) {
	rule, ok := mediaRules[in.Kind]
	if !ok {
		return nil, apiws.FieldError(apiws.EINVALID, field("media", "kind"), "media must be IMAGE, DOCUMENT, AUDIO or VIDEO")
	}
	mimeType, params, err := mime.ParseMediaType(in.MimeType)
	if err != nil || !accepts(rule.types, mimeType) {
		return nil, apiws.FieldError(apiws.EINVALID, field("media", "mimeType"), "%s is not accepted for %s", in.MimeType, in.Kind)
	}
	if c, ok := params["codecs"]; ok {
		mimeType += "; codecs=" + c
	}
	var data []byte
	switch {
	case in.Data != nil && in.URL != nil:
		return nil, apiws.FieldError(apiws.EINVALID, field("media"), "give data or url, not both")
	case in.Data != nil:
		data, err = base64.StdEncoding.DecodeString(*in.Data)
		if err != nil {
			return nil, apiws.FieldError(apiws.EINVALID, field("media", "data"), "is not valid base64")
		}
	case in.URL != nil:
		data, err = s.fetcher.fetch(ctx, *in.URL, min(rule.maxBytes, maxFetchedSize))
		if err != nil {
			return nil, err
		}
	default:
		return nil, apiws.FieldError(apiws.EINVALID, field("media"), "give data or url")
	}
	if len(data) == 0 {
		return nil, apiws.FieldError(apiws.EINVALID, field("media"), "the media is empty")
	}
	if int64(len(data)) > rule.maxBytes {
		return nil, apiws.FieldError(apiws.EINVALID, field("media"), "%s media may be at most %d MiB", in.Kind, rule.maxBytes>>20)
	}
	m := &whatsapp.Media{Data: data, MimeType: mimeType}
	if in.FileName != nil {
		m.FileName = *in.FileName
	}
	if in.Caption != nil {
		m.Caption = *in.Caption
	}
	return m, nil
}

func accepts(types []string, mimeType string) bool {
	for _, t := range types {
		if t == mimeType || strings.HasSuffix(t, "/") && strings.HasPrefix(mimeType, t) {
			return true
		}
	}
	return false
}

// mediaFetcher downloads media from the public internet only: every
// connection, including those of redirects, is checked after DNS resolution
// by publicnet's policy, so a name that resolves to a private address is
// refused too.
type mediaFetcher struct {
	client       *http.Client
	allowPrivate bool
}

func newMediaFetcher(allowPrivate bool) *mediaFetcher {
	f := &mediaFetcher{allowPrivate: allowPrivate}
	f.client = &http.Client{
		Transport: publicnet.Policy{AllowPrivate: allowPrivate}.Transport(),
		Timeout:   fetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "https" && !f.allowPrivate {
				return errors.New("redirect to a non-https URL")
			}
			return nil
		},
	}
	return f
}

func (f *mediaFetcher) fetch(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	invalid := func(format string, args ...any) error {
		return apiws.FieldError(apiws.EINVALID, field("media", "url"), format, args...)
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(f.allowPrivate && u.Scheme == "http")) {
		return nil, invalid("must be an https URL")
	}
	if u.User != nil {
		return nil, invalid("must not carry credentials")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, invalid("must be an https URL")
	}
	req.Header.Set("User-Agent", "apiws-media-fetcher")
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, publicnet.ErrBlocked) {
			return nil, invalid("points to a private, loopback or reserved address")
		}
		return nil, invalid("could not be fetched: %s", fetchProblem(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, invalid("answered HTTP %d", resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, invalid("is larger than %d MiB", limit>>20)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, invalid("could not be read: %s", fetchProblem(err))
	}
	if int64(len(data)) > limit {
		return nil, invalid("is larger than %d MiB", limit>>20)
	}
	return data, nil
}

// fetchProblem describes a fetch failure without echoing internals.
func fetchProblem(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case strings.Contains(err.Error(), "redirect"):
		return "too many or unsafe redirects"
	case strings.Contains(err.Error(), "no such host"):
		return "unknown host"
	}
	return "connection failed"
}
