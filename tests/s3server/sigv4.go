package main

// AWS Signature Version 4 verification for S3 requests, in front of gofakes3 (which checks
// no signature at all). Both forms S3 accepts are verified: the Authorization header and the
// presigned query string (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature), including a presigned URL's expiry. A payload whose
// x-amz-content-sha256 is a hex digest is checked against that digest before gofakes3 sees
// it; a STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload has every chunk's signature checked, each
// chained to the one before from the seed signature of the headers. Other streaming forms
// (unsigned or with trailers) are refused as not implemented; SigV2 and anonymous requests
// are refused.
//
// Reference: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm      = "AWS4-HMAC-SHA256"
	amzDateLayout  = "20060102T150405Z"
	scopeDayLayout = "20060102"
	// S3's limits: a presigned URL lives at most seven days; a signed request may be this far
	// from the server's clock.
	maxPresignExpiry = 7 * 24 * time.Hour
	maxClockSkew     = 15 * time.Minute
	unsignedPayload  = "UNSIGNED-PAYLOAD"
	streamingSigned  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	chunkAlgorithm   = "AWS4-HMAC-SHA256-PAYLOAD"
	// Longest chunk header line accepted ("<hex size>;chunk-signature=<64 hex>").
	maxChunkHeader = 128
)

// s3Error is the XML body S3 answers a refused request with.
type s3Error struct {
	XMLName      xml.Name `xml:"Error"`
	Code         string
	Message      string
	StringToSign string `xml:",omitempty"`
	// The canonical request the server computed: with it a client can see which part differs.
	CanonicalRequest string `xml:",omitempty"`
}

type refusal struct {
	status int
	body   s3Error
}

func refuse(status int, code, format string, args ...any) *refusal {
	return &refusal{status: status, body: s3Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// verifier checks every request's signature against a fixed set of key pairs before handing
// it to the S3 handler behind it.
type verifier struct {
	next     http.Handler
	secrets  map[string]string // access key id -> secret access key
	region   string            // "" accepts any region in the credential scope
	now      func() time.Time
	spoolDir string // where signed payloads wait while their SHA-256 is checked
}

func (v *verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cleanup, ref := v.verify(r)
	if cleanup != nil {
		defer cleanup()
	}
	if ref != nil {
		log.Printf("refused %s %s: %s: %s", r.Method, r.URL.Path, ref.body.Code, ref.body.Message)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(ref.status)
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, xml.Header)
			_ = xml.NewEncoder(w).Encode(ref.body)
		}
		return
	}
	v.next.ServeHTTP(w, r)
}

// authorization is what a request claims: who signed it, for which scope, over which headers.
type authorization struct {
	accessKey     string
	scopeDay      string
	region        string
	service       string
	signedHeaders []string
	signature     string
	amzDate       time.Time
	amzDateRaw    string
	payloadHash   string
	presigned     bool
	expires       time.Duration
}

func (v *verifier) verify(r *http.Request) (func(), *refusal) {
	auth, ref := parseAuthorization(r)
	if ref != nil {
		return nil, ref
	}
	secret, ok := v.secrets[auth.accessKey]
	if !ok {
		return nil, refuse(http.StatusForbidden, "InvalidAccessKeyId",
			"The AWS Access Key Id you provided does not exist in our records.")
	}
	if auth.service != "s3" {
		return nil, refuse(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"the credential scope names service %q; this server is s3", auth.service)
	}
	if v.region != "" && auth.region != v.region {
		return nil, refuse(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"the region %q is wrong; expecting %q", auth.region, v.region)
	}
	if auth.amzDate.Format(scopeDayLayout) != auth.scopeDay {
		return nil, refuse(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"the credential scope's date %s is not the request's date %s", auth.scopeDay, auth.amzDateRaw)
	}
	now := v.now().UTC()
	if auth.presigned {
		if auth.amzDate.After(now.Add(maxClockSkew)) {
			return nil, refuse(http.StatusForbidden, "AccessDenied", "Request is not valid yet")
		}
		if now.After(auth.amzDate.Add(auth.expires)) {
			ref := refuse(http.StatusForbidden, "AccessDenied", "Request has expired")
			ref.body.Message += fmt.Sprintf(" (X-Amz-Date %s, X-Amz-Expires %d, server time %s)",
				auth.amzDateRaw, int(auth.expires.Seconds()), now.Format(amzDateLayout))
			return nil, ref
		}
	} else if d := now.Sub(auth.amzDate); d > maxClockSkew || d < -maxClockSkew {
		return nil, refuse(http.StatusForbidden, "RequestTimeTooSkewed",
			"The difference between the request time (%s) and the server's time (%s) is too large.",
			auth.amzDateRaw, now.Format(amzDateLayout))
	}

	canonical := canonicalRequest(r, auth)
	scope := strings.Join([]string{auth.scopeDay, auth.region, auth.service, "aws4_request"}, "/")
	toSign := strings.Join([]string{algorithm, auth.amzDateRaw, scope, hexSHA256([]byte(canonical))}, "\n")
	key := signingKey(secret, auth.scopeDay, auth.region, auth.service)
	want := hex.EncodeToString(hmacSHA256(key, []byte(toSign)))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(auth.signature))) {
		ref := refuse(http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. "+
				"Check your key and signing method.")
		ref.body.StringToSign = toSign
		ref.body.CanonicalRequest = canonical
		return nil, ref
	}
	switch {
	case auth.presigned:
		return nil, nil
	case isHexSHA256(auth.payloadHash):
		return v.checkPayload(r, auth.payloadHash)
	case auth.payloadHash == streamingSigned:
		return v.checkChunks(r, key, chunkScope{amzDate: auth.amzDateRaw, scope: scope}, want)
	case strings.HasPrefix(auth.payloadHash, "STREAMING-"):
		return nil, refuse(http.StatusNotImplemented, "NotImplemented",
			"x-amz-content-sha256 %s is not supported here; send a hex SHA-256, UNSIGNED-PAYLOAD or %s",
			auth.payloadHash, streamingSigned)
	}
	return nil, nil
}

// parseAuthorization reads the signature from the Authorization header or the presigned query.
func parseAuthorization(r *http.Request) (*authorization, *refusal) {
	query := r.URL.Query()
	header := r.Header.Get("Authorization")
	switch {
	case query.Get("X-Amz-Algorithm") != "":
		return parsePresigned(r, query)
	case strings.HasPrefix(header, algorithm+" "):
		return parseHeader(r, strings.TrimPrefix(header, algorithm+" "))
	case strings.HasPrefix(header, "AWS "), query.Get("Signature") != "":
		return nil, refuse(http.StatusBadRequest, "InvalidRequest",
			"Signature Version 2 is not supported; sign with AWS4-HMAC-SHA256")
	default:
		return nil, refuse(http.StatusForbidden, "AccessDenied", "Access Denied: the request is not signed")
	}
}

func parseHeader(r *http.Request, fields string) (*authorization, *refusal) {
	parts := map[string]string{}
	for _, field := range strings.Split(fields, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(field), "=")
		if ok {
			parts[name] = value
		}
	}
	auth, ref := parseCommon(parts["Credential"], parts["SignedHeaders"], parts["Signature"])
	if ref != nil {
		return nil, ref
	}
	auth.amzDateRaw = r.Header.Get("X-Amz-Date")
	if auth.amzDateRaw == "" {
		return nil, refuse(http.StatusForbidden, "AccessDenied",
			"AWS authentication requires a valid Date or x-amz-date header")
	}
	var err error
	if auth.amzDate, err = time.Parse(amzDateLayout, auth.amzDateRaw); err != nil {
		return nil, refuse(http.StatusForbidden, "AccessDenied", "x-amz-date %q is not a date", auth.amzDateRaw)
	}
	auth.payloadHash = r.Header.Get("X-Amz-Content-Sha256")
	if auth.payloadHash == "" {
		return nil, refuse(http.StatusBadRequest, "InvalidRequest",
			"Missing required header for this request: x-amz-content-sha256")
	}
	return auth, nil
}

func parsePresigned(r *http.Request, query url.Values) (*authorization, *refusal) {
	if a := query.Get("X-Amz-Algorithm"); a != algorithm {
		return nil, refuse(http.StatusBadRequest, "AuthorizationQueryParametersError",
			"X-Amz-Algorithm only supports %q", algorithm)
	}
	auth, ref := parseCommon(query.Get("X-Amz-Credential"), query.Get("X-Amz-SignedHeaders"), query.Get("X-Amz-Signature"))
	if ref != nil {
		return nil, ref
	}
	auth.presigned = true
	auth.amzDateRaw = query.Get("X-Amz-Date")
	var err error
	if auth.amzDate, err = time.Parse(amzDateLayout, auth.amzDateRaw); err != nil {
		return nil, refuse(http.StatusBadRequest, "AuthorizationQueryParametersError",
			"X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	seconds, err := strconv.Atoi(query.Get("X-Amz-Expires"))
	if err != nil || seconds < 0 {
		return nil, refuse(http.StatusBadRequest, "AuthorizationQueryParametersError",
			"X-Amz-Expires should be a number of seconds")
	}
	auth.expires = time.Duration(seconds) * time.Second
	if auth.expires > maxPresignExpiry {
		return nil, refuse(http.StatusBadRequest, "AuthorizationQueryParametersError",
			"X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	auth.payloadHash = unsignedPayload
	if h := query.Get("X-Amz-Content-Sha256"); h != "" {
		auth.payloadHash = h
	}
	return auth, nil
}

func parseCommon(credential, signedHeaders, signature string) (*authorization, *refusal) {
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || signedHeaders == "" || signature == "" {
		return nil, refuse(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"the authorization needs Credential=KEY/DATE/REGION/SERVICE/aws4_request, SignedHeaders and Signature")
	}
	headers := strings.Split(strings.ToLower(signedHeaders), ";")
	if !contains(headers, "host") {
		return nil, refuse(http.StatusBadRequest, "AuthorizationHeaderMalformed", "SignedHeaders must include host")
	}
	return &authorization{
		accessKey:     scope[0],
		scopeDay:      scope[1],
		region:        scope[2],
		service:       scope[3],
		signedHeaders: headers,
		signature:     signature,
	}, nil
}

// canonicalRequest is the text the client signed, rebuilt from what arrived.
func canonicalRequest(r *http.Request, auth *authorization) string {
	var headers strings.Builder
	for _, name := range auth.signedHeaders {
		headers.WriteString(name)
		headers.WriteByte(':')
		headers.WriteString(canonicalHeaderValue(r, name))
		headers.WriteByte('\n')
	}
	return strings.Join([]string{
		r.Method,
		canonicalURI(r.URL.Path),
		canonicalQuery(r.URL.RawQuery, auth.presigned),
		headers.String(),
		strings.Join(auth.signedHeaders, ";"),
		auth.payloadHash,
	}, "\n")
}

func canonicalHeaderValue(r *http.Request, name string) string {
	var values []string
	switch name {
	case "host":
		// Go moves Host out of the header map.
		values = []string{r.Host}
	case "content-length":
		values = r.Header.Values("Content-Length")
		if len(values) == 0 && r.ContentLength >= 0 {
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		values = r.TransferEncoding
	default:
		values = r.Header.Values(name)
	}
	// Values returns the header map's own slice: trim into a new one.
	trimmed := make([]string, len(values))
	for i, v := range values {
		trimmed[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(trimmed, ",")
}

// canonicalURI encodes the path as S3 clients do when signing: each byte except the
// unreserved characters and '/', once (S3 does not double-encode).
func canonicalURI(path string) string {
	if path == "" {
		return "/"
	}
	return awsEscape(path, false)
}

func canonicalQuery(raw string, presigned bool) string {
	type pair struct{ key, value string }
	var pairs []pair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		key, value, _ := strings.Cut(part, "=")
		key, value = unescape(key), unescape(value)
		if presigned && key == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, pair{awsEscape(key, true), awsEscape(value, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].key != pairs[j].key {
			return pairs[i].key < pairs[j].key
		}
		return pairs[i].value < pairs[j].value
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.key + "=" + p.value
	}
	return strings.Join(out, "&")
}

// unescape decodes %XX; '+' stays '+' (clients that sign encode a space as %20).
func unescape(s string) string {
	if decoded, err := url.PathUnescape(s); err == nil {
		return decoded
	}
	return s
}

func awsEscape(s string, slash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		unreserved := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~'
		if unreserved || (c == '/' && !slash) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// checkPayload spools the body while hashing it and refuses it when the digest differs from
// the signed one, so a tampered body is never stored (the backend writes in place).
func (v *verifier) checkPayload(r *http.Request, want string) (func(), *refusal) {
	if r.Body == nil || r.ContentLength == 0 {
		if want == hexSHA256(nil) {
			return nil, nil
		}
		return nil, refuse(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	spool, err := os.CreateTemp(v.spoolDir, "payload-")
	if err != nil {
		return nil, refuse(http.StatusInternalServerError, "InternalError", "cannot spool the payload: %v", err)
	}
	cleanup := func() { spool.Close(); os.Remove(spool.Name()) }
	hash := sha256.New()
	if _, err := io.Copy(io.MultiWriter(spool, hash), r.Body); err != nil {
		return cleanup, refuse(http.StatusBadRequest, "IncompleteBody", "reading the body failed: %v", err)
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != strings.ToLower(want) {
		return cleanup, refuse(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return cleanup, refuse(http.StatusInternalServerError, "InternalError", "cannot rewind the payload: %v", err)
	}
	r.Body.Close()
	r.Body = io.NopCloser(spool)
	return cleanup, nil
}

type chunkScope struct{ amzDate, scope string }

// checkChunks decodes an aws-chunked body ("<hex size>;chunk-signature=<sig>\r\n<data>\r\n",
// ending with a chunk of size 0) into a spool, checking each chunk's signature: an HMAC, with the
// request's signing key, of the chunk's SHA-256 chained to the previous signature (the seed is
// the request's own). The handler behind then sees a plain body with its SHA-256.
func (v *verifier) checkChunks(r *http.Request, key []byte, cs chunkScope, seed string) (func(), *refusal) {
	decoded, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	if err != nil || decoded < 0 {
		return nil, refuse(http.StatusLengthRequired, "MissingContentLength",
			"a %s upload needs x-amz-decoded-content-length", streamingSigned)
	}
	spool, err := os.CreateTemp(v.spoolDir, "payload-")
	if err != nil {
		return nil, refuse(http.StatusInternalServerError, "InternalError", "cannot spool the payload: %v", err)
	}
	cleanup := func() { spool.Close(); os.Remove(spool.Name()) }
	body := bufio.NewReaderSize(r.Body, 64*1024)
	whole := sha256.New()
	previous, total := seed, int64(0)
	for index := 0; ; index++ {
		size, signature, ref := readChunkHeader(body)
		if ref != nil {
			return cleanup, ref
		}
		if size > decoded-total {
			return cleanup, refuse(http.StatusBadRequest, "IncompleteBody",
				"chunk %d is longer than x-amz-decoded-content-length leaves", index)
		}
		chunk := sha256.New()
		if _, err := io.CopyN(io.MultiWriter(spool, chunk, whole), body, size); err != nil {
			return cleanup, refuse(http.StatusBadRequest, "IncompleteBody", "chunk %d is cut short: %v", index, err)
		}
		if crlf := make([]byte, 2); size > 0 {
			if _, err := io.ReadFull(body, crlf); err != nil || string(crlf) != "\r\n" {
				return cleanup, refuse(http.StatusBadRequest, "IncompleteBody", "chunk %d does not end with CRLF", index)
			}
		}
		toSign := strings.Join([]string{chunkAlgorithm, cs.amzDate, cs.scope, previous, hexSHA256(nil),
			hex.EncodeToString(chunk.Sum(nil))}, "\n")
		want := hex.EncodeToString(hmacSHA256(key, []byte(toSign)))
		if !hmac.Equal([]byte(want), []byte(strings.ToLower(signature))) {
			ref := refuse(http.StatusForbidden, "SignatureDoesNotMatch",
				"The request signature we calculated does not match the signature you provided (chunk %d).", index)
			ref.body.StringToSign = toSign
			return cleanup, ref
		}
		previous, total = signature, total+size
		if size == 0 {
			break
		}
	}
	if total != decoded {
		return cleanup, refuse(http.StatusBadRequest, "IncompleteBody",
			"the chunks hold %d bytes; x-amz-decoded-content-length says %d", total, decoded)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return cleanup, refuse(http.StatusInternalServerError, "InternalError", "cannot rewind the payload: %v", err)
	}
	r.Body.Close()
	r.Body = io.NopCloser(spool)
	r.ContentLength = total
	r.Header.Set("Content-Length", strconv.FormatInt(total, 10))
	r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(whole.Sum(nil)))
	r.Header.Del("X-Amz-Decoded-Content-Length")
	// S3 keeps no "aws-chunked" in the object's Content-Encoding.
	var encodings []string
	for _, e := range strings.Split(r.Header.Get("Content-Encoding"), ",") {
		if e = strings.TrimSpace(e); e != "" && e != "aws-chunked" {
			encodings = append(encodings, e)
		}
	}
	if len(encodings) == 0 {
		r.Header.Del("Content-Encoding")
	} else {
		r.Header.Set("Content-Encoding", strings.Join(encodings, ","))
	}
	return cleanup, nil
}

func readChunkHeader(body *bufio.Reader) (size int64, signature string, ref *refusal) {
	line, err := body.ReadSlice('\n')
	if err != nil || len(line) > maxChunkHeader || !strings.HasSuffix(string(line), "\r\n") {
		return 0, "", refuse(http.StatusBadRequest, "IncompleteBody", "a chunk header is missing or malformed")
	}
	sizeHex, extension, _ := strings.Cut(strings.TrimSuffix(string(line), "\r\n"), ";")
	signature, found := strings.CutPrefix(extension, "chunk-signature=")
	size, err = strconv.ParseInt(sizeHex, 16, 64)
	if err != nil || size < 0 || !found || len(signature) != 64 {
		return 0, "", refuse(http.StatusBadRequest, "IncompleteBody", "malformed chunk header %q", strings.TrimSpace(string(line)))
	}
	return size, signature, nil
}

func signingKey(secret, day, region, service string) []byte {
	key := hmacSHA256([]byte("AWS4"+secret), []byte(day))
	key = hmacSHA256(key, []byte(region))
	key = hmacSHA256(key, []byte(service))
	return hmacSHA256(key, []byte("aws4_request"))
}

func hmacSHA256(key, data []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return mac.Sum(nil)
}

func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}
