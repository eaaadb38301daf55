package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/whatsapp"
)

var _ apiws.MediaFiles = (*Service)(nil)

// mediaTopic carries requests for inbound files to the owner of their
// number: whatsmeow downloads through the number's connection, which only
// the owner holds.
const mediaTopic = "media-requests"

// mediaWait bounds how long a download waits for the owner of its number,
// on another instance, to answer; the owner gives up a little earlier.
const mediaWait = 60 * time.Second

// maxRelayedMedia bounds the files the owner of a number passes to another
// instance over the bus, in one message: WhatsApp's own limit on images,
// audio, video and stickers; a larger document is served only by the
// owner. Redis drops a subscriber whose output buffer passes 32 MB (its
// default pub/sub limit), and base64 makes 16 MiB 22 MB.
const maxRelayedMedia = 16 << 20

// relayPurpose names the key of files passed between instances: the bus
// never carries content in clear.
const relayPurpose = "apiws media relay v1: AES-256-GCM"

// mediaRequest asks the owner of a number for the file of a media link.
type mediaRequest struct {
	NumberID  string `json:"number"`
	AccountID string `json:"account"`
	Seq       int64  `json:"seq"`
	// Reply is the topic of the owner's answer.
	Reply string `json:"reply"`
}

// MediaFile implements apiws.MediaFiles: it checks the token before
// anything else, finds the file's reference in transit, and downloads the
// file through its number's connection, on the instance that holds it.
func (s *Service) MediaFile(ctx context.Context, token string) (*apiws.MediaFile, error) {
	if s.links == nil {
		return nil, apiws.Errorf(apiws.EFORBIDDEN, "this media link is not valid")
	}
	link, err := s.links.Open(token, s.now())
	if err != nil {
		return nil, err
	}
	numberID, m, err := s.events.Media(ctx, link)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errMediaGone
	}
	n, err := s.numbers.NumberByID(ctx, numberID)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, errMediaGone
	} else if err != nil {
		return nil, err
	}
	var data []byte
	if s.owner != nil && !apiws.Owns(s.owner, n.ID) {
		data, err = s.downloadThroughOwner(ctx, mediaRequest{NumberID: n.ID, AccountID: link.AccountID, Seq: link.Seq})
	} else {
		data, err = s.downloadHere(ctx, n, m.Ref)
	}
	if err != nil {
		return nil, err
	}
	return &apiws.MediaFile{MimeType: m.MimeType, FileName: m.FileName, Data: data}, nil
}

// errMediaGone answers a link whose file has left transit.
var errMediaGone = apiws.Errorf(apiws.EEXPIRED, "the file of this media link is no longer available")

// maxDownloads bounds the files this instance downloads at once: each is
// held whole in memory while it is decrypted and sent, so many requests
// for a large one at once must not multiply it without end.
const maxDownloads = 4

// downloadHere downloads a file through the number's connection on this
// instance, once one of the maxDownloads turns is free (or ctx ends).
func (s *Service) downloadHere(ctx context.Context, n *apiws.Number, ref []byte) ([]byte, error) {
	select {
	case s.downloads <- struct{}{}:
		defer func() { <-s.downloads }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	data, err := s.connectors(n).Download(ctx, n, ref)
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, whatsapp.ErrMediaGone):
		return nil, apiws.Errorf(apiws.EEXPIRED, "WhatsApp no longer has this file")
	case errors.Is(err, whatsapp.ErrNotConnected):
		return nil, apiws.Errorf(apiws.ENOTCONNECTED, "the number is not connected; try again once it is")
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	s.log.Warn("download inbound media", "number", n.ID, "err", err)
	return nil, apiws.Errorf(apiws.EUNAVAILABLE, "WhatsApp did not hand the file over; try again")
}

// downloadThroughOwner asks the instance holding the number's connection
// for the file (events.Ask), which answers with it sealed.
func (s *Service) downloadThroughOwner(ctx context.Context, req mediaRequest) ([]byte, error) {
	var sealed []byte
	err := events.Ask(ctx, s.bus, mediaTopic, req.NumberID, time.After(mediaWait), func(reply string) any {
		req.Reply = reply
		return req
	}, &sealed)
	if err != nil {
		return nil, err
	}
	return s.relay.Open([]byte(req.Reply), sealed)
}

// mediaRequested downloads a file another instance asked for (on
// mediaTopic) when this instance owns its number.
func (s *Service) mediaRequested(ev apiws.Event) {
	var req mediaRequest
	if ev.Kind != apiws.EventNumberCommand || json.Unmarshal(ev.Data, &req) != nil || !apiws.Owns(s.owner, req.NumberID) {
		return
	}
	s.wg.Add(1)
	go s.answerMediaRequest(req)
}

// answerMediaRequest downloads a file for another instance and answers on
// its reply topic (events.Answer) with the file sealed for it. It reads the
// file's reference from the transit table itself: the bus never carries it.
func (s *Service) answerMediaRequest(req mediaRequest) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, mediaWait-5*time.Second)
	defer cancel()
	file, err := s.ownerDownload(ctx, req)
	var sealed []byte
	switch {
	case apiws.ErrorCodeOf(err) == apiws.EINTERNAL:
		s.log.Warn("download inbound media on request of another instance", "number", req.NumberID, "err", err)
	case err != nil:
	case len(file) > maxRelayedMedia:
		err = apiws.Errorf(apiws.EUNAVAILABLE, "the file is too large to pass between servers: only the server holding the number's connection serves it; try again")
	default:
		sealed = s.relay.Seal([]byte(req.Reply), file)
	}
	if err := events.Answer(ctx, s.bus, req.Reply, req.NumberID, sealed, err); err != nil {
		s.log.Warn("answer a media request", "number", req.NumberID, "err", err)
	}
}

// ownerDownload downloads the file of req through this instance's
// connection of its number.
func (s *Service) ownerDownload(ctx context.Context, req mediaRequest) ([]byte, error) {
	numberID, m, err := s.events.Media(ctx, apiws.MediaLink{AccountID: req.AccountID, Seq: req.Seq})
	if err != nil {
		return nil, err
	}
	if m == nil || numberID != req.NumberID {
		return nil, errMediaGone
	}
	n, err := s.numbers.NumberByID(ctx, numberID)
	if err != nil {
		return nil, err
	}
	return s.downloadHere(ctx, n, m.Ref)
}
