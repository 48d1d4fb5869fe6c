package codec

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

const (
	testToken = "0123456789abcdef0123"
	uiOrigin  = "http://127.0.0.1:8233"
)

func testServer(t *testing.T, o ServerOptions) (*Codec, *httptest.Server) {
	t.Helper()
	c, err := New(newKeyLine(t, "k1"))
	require.NoError(t, err)
	h, err := Handler(c, o)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return c, srv
}

func post(t *testing.T, url string, body []byte, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func TestServerDecodesWithTheToken(t *testing.T) {
	c, srv := testServer(t, ServerOptions{Token: testToken, CORSOrigin: uiOrigin})
	sealed, err := c.Encode([]*commonpb.Payload{plain(t, "approved: CAB-77")})
	require.NoError(t, err)
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: sealed})
	require.NoError(t, err)

	resp := post(t, srv.URL+"/decode", body, map[string]string{"Authorization": "Bearer " + testToken, "Origin": uiOrigin})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, uiOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
	var out commonpb.Payloads
	var raw json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	require.NoError(t, protojson.Unmarshal(raw, &out))
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &s))
	require.Equal(t, "approved: CAB-77", s)

	for name, hdr := range map[string]map[string]string{
		"no token":    {},
		"wrong token": {"Authorization": "Bearer " + testToken + "x"},
		"basic":       {"Authorization": "Basic " + testToken},
	} {
		resp := post(t, srv.URL+"/decode", body, hdr)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
	}
	// A browser page of another origin is refused before the token.
	resp = post(t, srv.URL+"/decode", body, map[string]string{"Authorization": "Bearer " + testToken, "Origin": "http://evil.example"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestServerPreflight(t *testing.T) {
	_, srv := testServer(t, ServerOptions{Token: testToken, CORSOrigin: uiOrigin})
	preflight := func(origin string) *http.Response {
		req, err := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp
	}
	ok := preflight(uiOrigin)
	require.Equal(t, http.StatusNoContent, ok.StatusCode)
	require.Equal(t, uiOrigin, ok.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", ok.Header.Get("Access-Control-Allow-Credentials"))
	require.Contains(t, ok.Header.Get("Access-Control-Allow-Headers"), "X-Namespace")

	bad := preflight("http://127.0.0.1:9999")
	require.Equal(t, http.StatusForbidden, bad.StatusCode)
	require.Empty(t, bad.Header.Get("Access-Control-Allow-Origin"))
}

func TestServerNoAuthOnLoopbackOnly(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	_, err := LoadToken(getenv, "127.0.0.1:8089", false)
	require.ErrorContains(t, err, EnvToken)
	_, err = LoadToken(getenv, "0.0.0.0:8089", true)
	require.ErrorContains(t, err, "loopback")
	tok, err := LoadToken(getenv, "127.0.0.1:8089", true)
	require.NoError(t, err)
	require.Empty(t, tok)

	env[EnvToken] = testToken
	_, err = LoadToken(getenv, "0.0.0.0:8089", false)
	require.ErrorContains(t, err, "not the secret itself")
	env["CODEC_TOKEN"] = "short"
	env[EnvToken] = "env:CODEC_TOKEN"
	_, err = LoadToken(getenv, "0.0.0.0:8089", false)
	require.ErrorContains(t, err, "at least")
	env["CODEC_TOKEN"] = testToken
	tok, err = LoadToken(getenv, "0.0.0.0:8089", false)
	require.NoError(t, err)
	require.Equal(t, testToken, tok)

	_, err = Handler(nil, ServerOptions{})
	require.Error(t, err, "a handler with neither token nor NoAuth")
}
