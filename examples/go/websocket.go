package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/Khan/genqlient/graphql"
	"github.com/gorilla/websocket"
)

// websocketURL is the GraphQL endpoint of base as a ws:// or wss:// URL.
func websocketURL(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest + "/graphql"
	}
	return "ws://" + strings.TrimPrefix(base, "http://") + "/graphql"
}

// dialer opens genqlient's websocket with gorilla/websocket.
type dialer struct{}

func (dialer) DialContext(ctx context.Context, url string, header http.Header) (graphql.WSConn, error) {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, header)
	if err != nil {
		return nil, err
	}
	return &pingingConn{Conn: conn}, nil
}

// pingingConn answers the server's graphql-transport-ws keep-alive pings itself:
// genqlient's client would take a ping for a message of an unknown
// subscription and stop listening.
type pingingConn struct{ *websocket.Conn }

func (c *pingingConn) ReadMessage() (int, []byte, error) {
	for {
		typ, data, err := c.Conn.ReadMessage()
		if err != nil {
			return typ, data, err
		}
		var m struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &m) == nil && (m.Type == "ping" || m.Type == "pong") {
			if m.Type == "ping" {
				if err := c.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`)); err != nil {
					return 0, nil, err
				}
			}
			continue
		}
		return typ, data, nil
	}
}
