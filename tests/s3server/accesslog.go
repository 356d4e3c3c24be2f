package main

import (
	"log"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// accessLog logs one line per request that passed verification: method, path, the query's
// parameter names (only partNumber with its value: the values of the others are signatures,
// credentials and upload ids), the status and the bytes written. Tests read it to see which S3
// operations a client made (a multipart upload shows as ?uploads, ?partNumber=N&uploadId and
// ?uploadId); refusals are logged by the verifier with their reason.
type accessLog struct {
	next http.Handler
}

func (a accessLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	a.next.ServeHTTP(rec, r)
	log.Printf("access %s %s%s %d %d", r.Method, r.URL.EscapedPath(), queryShape(r.URL.Query()), rec.status, rec.bytes)
}

// queryShape is "?name&name=value..." in sorted order, or "" without a query.
func queryShape(query url.Values) string {
	if len(query) == 0 {
		return ""
	}
	names := make([]string, 0, len(query))
	for name := range query {
		if name == "partNumber" {
			names = append(names, name+"="+query.Get(name))
		} else {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return "?" + strings.Join(names, "&")
}

// statusRecorder remembers the status and the size of the answer for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}
