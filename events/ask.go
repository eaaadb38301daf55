package events

import (
	"context"
	"encoding/json"
	"time"

	"github.com/apiws/apiws"
)

// Only the instance that holds a number's connection can act through it
// (look phones up, send a read receipt, edit a message). Another instance
// asks it over the Bus with Ask, and the owner answers with Answer, on a
// reply topic made for that one request.

// answer is what Answer publishes: the result, or the error's code and
// message.
type answer struct {
	Result  json.RawMessage `json:"result,omitempty"`
	Code    apiws.ErrorCode `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
}

// Ask publishes, on topic, the request that request makes for the owner of
// numberID (it is given the reply topic to name in the request), and waits
// for the owner's Answer. The answer's result is decoded into result
// (unless nil); an error it carries is returned with its code. No answer
// before timeout fires is EUNAVAILABLE; ctx ending returns its error. The
// reply topic is followed before the request goes out, so no answer can be
// missed.
func Ask(ctx context.Context, bus Bus, topic, numberID string, timeout <-chan time.Time, request func(reply string) any, result any) error {
	reply := topic + "-reply-" + apiws.NewID("r")
	f, err := NewFollower(ctx, bus, reply, apiws.EventNumberCommand)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := json.Marshal(request(reply))
	if err != nil {
		return err
	}
	if err := bus.Publish(ctx, topic, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: numberID, Data: data}); err != nil {
		return err
	}
	for {
		select {
		case ev, ok := <-f.C():
			if !ok {
				// A resync (the reply's subscription was dropped and made
				// again) is no answer: waiting goes on.
				if ev, err = f.Resume(); err != nil {
					return err
				}
			}
			var a answer
			if ev.Kind != apiws.EventNumberCommand || ev.NumberID != numberID || json.Unmarshal(ev.Data, &a) != nil {
				continue
			}
			if a.Code != "" {
				return apiws.Errorf(a.Code, "%s", a.Message)
			}
			if result != nil && len(a.Result) > 0 {
				return json.Unmarshal(a.Result, result)
			}
			return nil
		case <-timeout:
			return apiws.Errorf(apiws.EUNAVAILABLE, "the server holding the number's connection did not answer; try again")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Answer publishes the owner's answer to a request Ask made, on its reply
// topic: result when err is nil, else err's code and message. An error
// with no code of its own (EINTERNAL) is answered as EUNAVAILABLE, its
// details left to the owner's log: the caller logs it.
func Answer(ctx context.Context, bus Bus, reply, numberID string, result any, err error) error {
	var a answer
	if err != nil {
		a.Code, a.Message = apiws.ErrorCodeOf(err), apiws.ErrorMessage(err)
		if a.Code == apiws.EINTERNAL {
			a.Code, a.Message = apiws.EUNAVAILABLE, "it failed; try again"
		}
	} else if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return err
		}
		a.Result = b
	}
	data, _ := json.Marshal(a)
	return bus.Publish(ctx, reply, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: numberID, Data: data})
}
