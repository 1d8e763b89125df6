package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"

	"github.com/o2o-dispatch/dispatchd/dispatch"
)

// Check checks a webhook's settings as an admin gives them: an absolute http or https URL (at most 2000 bytes)
// and a secret that gives a signing key. A refusal is an invalid-argument error naming the field.
func Check(rawURL, secret string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(rawURL) > 2000 {
		return &dispatch.Error{Code: dispatch.EInvalid, Field: "url", Message: "url must be an absolute http or https URL"}
	}
	_, err = signingKey(secret)
	return err
}

// signingKey is the HMAC key of a secret: "whsec_" and base64 (the Standard Webhooks form), or the secret's bytes.
func signingKey(secret string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		key, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(key) < 16 {
			return nil, &dispatch.Error{Code: dispatch.EInvalid, Field: "secret", Message: "a whsec_ secret is base64 of at least 16 bytes"}
		}
		return key, nil
	}
	if len(secret) < 16 || len(secret) > 256 {
		return nil, &dispatch.Error{Code: dispatch.EInvalid, Field: "secret", Message: "secret must be 16 to 256 bytes (or whsec_ and base64)"}
	}
	return []byte(secret), nil
}

// Sign returns the Standard Webhooks signature header value of a delivery: "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" with the secret's key.
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := signingKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}
