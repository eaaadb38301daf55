package main

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"

	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// pairingSandboxDelay makes the sandbox pair in about a second: slow enough
// for a subscriber to join while QR codes still rotate.
const pairingSandboxDelay = "0.5"

// pairingEnv is the environment of a server whose sandbox pairs slowly.
func pairingEnv() map[string]string {
	return map[string]string{"APIWS_SANDBOX_DELAY": pairingSandboxDelay}
}

const connectMutation = `mutation($i: ConnectNumberInput!) { connectNumber(input: $i) {
  number { id status sandbox label phone } userErrors { code field message } } }`

// connectSandbox connects a sandbox number and returns its id.
func connectSandbox(t *testing.T, base, token string) string {
	t.Helper()
	r := gql(t, base, token, connectMutation, map[string]any{"i": map[string]any{"sandbox": true, "label": "shop"}})
	n := get(r.Data, "connectNumber", "number")
	if str(n, "status") != "PAIRING" || get(n, "sandbox") != true || str(n, "label") != "shop" {
		t.Fatalf("connectNumber = %+v", r)
	}
	return str(n, "id")
}

const pairingSub = `subscription($id: ID!) { pairing(numberId: $id) {
  __typename
  ... on PairingQRCode { code image expiresAt }
  ... on PairingSuccess { number { id status phone pushName connectedAt } }
  ... on PairingFailure { reason message } } }`

const numberStatusSub = `subscription($id: ID) { numberStatus(numberId: $id) { number { id phone } status at reason } }`

const numberNode = `query($id: ID!) { node(id: $id) { ... on WhatsAppNumber { id status phone sandbox connectedAt } } }`

// pairOverWebsocket follows a sandbox pairing started on actBase from a
// websocket to subBase: QR codes, then success, and CONNECTED on
// numberStatus.
func pairOverWebsocket(t *testing.T, subBase, actBase, proto string) {
	token, _ := signUp(t, actBase, "pair-"+strings.ReplaceAll(proto, "-", "")+"@example.com")
	id := connectSandbox(t, actBase, token)

	ws := openWS(t, subBase, proto, token)
	ws.subscribe("status", numberStatusSub, map[string]any{"id": id})
	ws.subscribe("pair", pairingSub, map[string]any{"id": id})

	qrs := 0
	for {
		ev := get(ws.data("pair"), "pairing")
		typename := str(ev, "__typename")
		if typename == "PairingQRCode" {
			qrs++
			checkQR(t, ev)
			continue
		}
		if typename != "PairingSuccess" {
			t.Fatalf("pairing ended with %v", ev)
		}
		n := get(ev, "number")
		if str(n, "id") != id || str(n, "status") != "CONNECTED" || !strings.HasPrefix(str(n, "phone"), "+155501") {
			t.Fatalf("PairingSuccess.number = %v", n)
		}
		break
	}
	if qrs == 0 {
		t.Fatal("no QR code before the success")
	}
	ws.complete("pair")

	for {
		ev := get(ws.data("status"), "numberStatus")
		if str(ev, "number", "id") != id {
			t.Fatalf("numberStatus of another number: %v", ev)
		}
		if str(ev, "status") == "CONNECTED" {
			break
		}
	}

	resp := gql(t, actBase, token, numberNode, map[string]any{"id": id})
	if str(resp.Data, "node", "status") != "CONNECTED" || str(resp.Data, "node", "connectedAt") == "" {
		t.Fatalf("node after pairing = %v", resp)
	}
}

// checkQR asserts a PairingQRCode's image is a PNG data URL.
func checkQR(t *testing.T, ev any) {
	t.Helper()
	img := str(ev, "image")
	const prefix = "data:image/png;base64,"
	if str(ev, "code") == "" || str(ev, "expiresAt") == "" || !strings.HasPrefix(img, prefix) {
		t.Fatalf("PairingQRCode = %.200v", ev)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(img, prefix))
	if err != nil {
		t.Fatalf("QR image is not base64: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("QR image is not a PNG: %v", err)
	}
}

func TestPairingOverWebsocket(t *testing.T) {
	for _, proto := range subprotocols {
		t.Run(proto, func(t *testing.T) {
			base := startServer(t, pairingEnv())
			pairOverWebsocket(t, base, base, proto)
		})
	}
}

func TestPairingAcrossInstancesOverRedis(t *testing.T) {
	redisURL := sharedRedisURL()
	for _, proto := range subprotocols {
		t.Run(proto, func(t *testing.T) {
			env := map[string]string{
				"APIWS_DATABASE_URL":  storagetest.URL(t, storage.Postgres),
				"APIWS_REDIS_URL":     redisURL,
				"APIWS_SANDBOX_DELAY": pairingSandboxDelay,
			}
			subscriber := startServer(t, env)
			actor := startServer(t, env)
			pairOverWebsocket(t, subscriber, actor, proto)
		})
	}
}
