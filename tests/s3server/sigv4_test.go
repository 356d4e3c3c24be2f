package main

// The examples of AWS's own documentation ("Signature Calculations for the Authorization
// Header" and "Authenticating Requests: Using Query Parameters", Amazon S3 API reference):
// requests signed by AWS with a published key pair, which this verifier must accept, and
// variations of them that it must refuse.

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	docAccessKey = "AKIAIOSFODNN7EXAMPLE"
	docSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	emptySHA256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

var docTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func docVerifier(now time.Time) *verifier {
	return &verifier{
		next:    http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }),
		secrets: map[string]string{docAccessKey: docSecretKey},
		region:  "us-east-1",
		now:     func() time.Time { return now },
	}
}

// docGetObject is the documentation's GET Object example (the first 10 bytes of test.txt).
func docGetObject() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://examplebucket.s3.amazonaws.com/test.txt", nil)
	r.Header.Set("Range", "bytes=0-9")
	r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+docAccessKey+"/20130524/us-east-1/s3/aws4_request,"+
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"+
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	return r
}

// docPresigned is the documentation's presigned GET of test.txt, valid for 86400 s.
const docPresigned = "http://examplebucket.s3.amazonaws.com/test.txt" +
	"?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
	"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
	"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
	"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

func code(t *testing.T, v *verifier, r *http.Request) string {
	t.Helper()
	cleanup, ref := v.verify(r)
	if cleanup != nil {
		cleanup()
	}
	if ref == nil {
		return ""
	}
	return ref.body.Code
}

func TestDocumentedHeaderSignatureIsAccepted(t *testing.T) {
	if got := code(t, docVerifier(docTime.Add(time.Minute)), docGetObject()); got != "" {
		t.Fatalf("AWS's own example was refused: %s", got)
	}
}

func TestHeaderSignatureRefusals(t *testing.T) {
	cases := map[string]struct {
		change func(r *http.Request)
		now    time.Time
		want   string
	}{
		"another range":          {func(r *http.Request) { r.Header.Set("Range", "bytes=0-99") }, docTime, "SignatureDoesNotMatch"},
		"another object":         {func(r *http.Request) { r.URL.Path = "/test2.txt" }, docTime, "SignatureDoesNotMatch"},
		"another host":           {func(r *http.Request) { r.Host = "otherbucket.s3.amazonaws.com" }, docTime, "SignatureDoesNotMatch"},
		"another method":         {func(r *http.Request) { r.Method = http.MethodDelete }, docTime, "SignatureDoesNotMatch"},
		"an added query":         {func(r *http.Request) { r.URL.RawQuery = "versionId=1" }, docTime, "SignatureDoesNotMatch"},
		"an unknown key":         {func(r *http.Request) { replaceAuth(r, docAccessKey, "AKIDOTHER") }, docTime, "InvalidAccessKeyId"},
		"another region":         {func(r *http.Request) { replaceAuth(r, "us-east-1", "eu-west-1") }, docTime, "AuthorizationHeaderMalformed"},
		"a scope of another day": {func(r *http.Request) { replaceAuth(r, "/20130524/", "/20130525/") }, docTime, "AuthorizationHeaderMalformed"},
		"a clock 16 min away":    {func(*http.Request) {}, docTime.Add(16 * time.Minute), "RequestTimeTooSkewed"},
		"no signature":           {func(r *http.Request) { r.Header.Del("Authorization") }, docTime, "AccessDenied"},
		"SigV2":                  {func(r *http.Request) { r.Header.Set("Authorization", "AWS AKID:sig") }, docTime, "InvalidRequest"},
		"no payload hash":        {func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, docTime, "InvalidRequest"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := docGetObject()
			c.change(r)
			if got := code(t, docVerifier(c.now), r); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func replaceAuth(r *http.Request, old, new string) {
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
}

func TestDocumentedPresignedURLWorksUntilItExpires(t *testing.T) {
	cases := map[string]struct {
		url  string
		now  time.Time
		want string
	}{
		"at once":                 {docPresigned, docTime, ""},
		"on its last second":      {docPresigned, docTime.Add(86400 * time.Second), ""},
		"a second later":          {docPresigned, docTime.Add(86401 * time.Second), "AccessDenied"},
		"before it was signed":    {docPresigned, docTime.Add(-20 * time.Minute), "AccessDenied"},
		"with a longer life":      {strings.Replace(docPresigned, "Expires=86400", "Expires=86401", 1), docTime, "SignatureDoesNotMatch"},
		"for another object":      {strings.Replace(docPresigned, "/test.txt", "/secret.txt", 1), docTime, "SignatureDoesNotMatch"},
		"beyond seven days":       {strings.Replace(docPresigned, "Expires=86400", "Expires=604801", 1), docTime, "AuthorizationQueryParametersError"},
		"with another signature":  {strings.Replace(docPresigned, "Signature=aeee", "Signature=beee", 1), docTime, "SignatureDoesNotMatch"},
		"with an added parameter": {docPresigned + "&response-content-type=text%2Fhtml", docTime, "SignatureDoesNotMatch"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, c.url, nil)
			if got := code(t, docVerifier(c.now), r); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestCanonicalEncodingFollowsS3(t *testing.T) {
	if got := canonicalURI("/a b/ü+x.txt"); got != "/a%20b/%C3%BC%2Bx.txt" {
		t.Fatalf("canonicalURI: %s", got)
	}
	if got := canonicalQuery("b=2&a=x%2Fy&a=1&empty", false); got != "a=1&a=x%2Fy&b=2&empty=" {
		t.Fatalf("canonicalQuery: %s", got)
	}
}
