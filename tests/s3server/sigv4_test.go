package main

// The examples of AWS's own documentation ("Signature Calculations for the Authorization
// Header" and "Authenticating Requests: Using Query Parameters", Amazon S3 API reference):
// requests signed by AWS with a published key pair, which this verifier must accept, and
// variations of them that it must refuse.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// docChunkedPut is the documentation's chunked upload: 66560 bytes of 'a' in chunks of 65536,
// 1024 and 0 bytes, each with its signature chained from the seed signature of the headers.
func docChunkedPut(chunkSignatures [3]string, chunkData [2][]byte) *http.Request {
	var body strings.Builder
	for i, sig := range chunkSignatures {
		var data []byte
		if i < 2 {
			data = chunkData[i]
		}
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n%s\r\n", len(data), sig, data)
	}
	r := httptest.NewRequest(http.MethodPut, "http://s3.amazonaws.com/examplebucket/chunkObject.txt",
		strings.NewReader(body.String()))
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	r.Header.Set("Content-Length", strconv.Itoa(body.Len()))
	r.Header.Set("X-Amz-Content-Sha256", streamingSigned)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+docAccessKey+"/20130524/us-east-1/s3/aws4_request,"+
		"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"+
		"x-amz-decoded-content-length;x-amz-storage-class,"+
		"Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
	return r
}

var docChunkSignatures = [3]string{
	"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
	"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
	"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
}

func docChunks() [2][]byte {
	return [2][]byte{[]byte(strings.Repeat("a", 65536)), []byte(strings.Repeat("a", 1024))}
}

func TestDocumentedChunkedUploadIsAcceptedAndDecoded(t *testing.T) {
	v := docVerifier(docTime)
	v.spoolDir = t.TempDir()
	r := docChunkedPut(docChunkSignatures, docChunks())
	if got := code(t, v, r); got != "" {
		t.Fatalf("AWS's own chunked upload was refused: %s", got)
	}
	// What the S3 handler behind sees: the decoded body, its length and digest, no aws-chunked.
	if r.ContentLength != 66560 || r.Header.Get("Content-Encoding") != "" ||
		r.Header.Get("X-Amz-Content-Sha256") != hexSHA256([]byte(strings.Repeat("a", 66560))) {
		t.Fatalf("not decoded: length %d, encoding %q, sha %s", r.ContentLength,
			r.Header.Get("Content-Encoding"), r.Header.Get("X-Amz-Content-Sha256"))
	}
}

func TestChunkedUploadRefusals(t *testing.T) {
	tamperedData := docChunks()
	tamperedData[1][7] = 'b'
	swapped := docChunkSignatures
	swapped[0], swapped[1] = swapped[1], swapped[0]
	cases := map[string]*http.Request{
		"a changed byte in the second chunk": docChunkedPut(docChunkSignatures, tamperedData),
		"chunks signed out of order":         docChunkedPut(swapped, docChunks()),
	}
	short := docChunkedPut(docChunkSignatures, docChunks())
	short.Header.Set("X-Amz-Decoded-Content-Length", "100")
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			v := docVerifier(docTime)
			v.spoolDir = t.TempDir()
			if got := code(t, v, r); got != "SignatureDoesNotMatch" {
				t.Fatalf("got %q", got)
			}
		})
	}
	t.Run("a declared length the chunks exceed", func(t *testing.T) {
		v := docVerifier(docTime)
		v.spoolDir = t.TempDir()
		// The length is signed too: the seed signature no longer matches.
		if got := code(t, v, short); got != "SignatureDoesNotMatch" {
			t.Fatalf("got %q", got)
		}
	})
}
