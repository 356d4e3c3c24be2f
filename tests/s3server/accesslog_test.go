package main

import (
	"net/url"
	"testing"
)

func TestQueryShapeKeepsOnlyPartNumbersValue(t *testing.T) {
	query, _ := url.ParseQuery("uploadId=secret-ish&partNumber=2&X-Amz-Signature=abc")
	if got, want := queryShape(query), "?X-Amz-Signature&partNumber=2&uploadId"; got != want {
		t.Fatalf("queryShape = %q, want %q", got, want)
	}
	if got := queryShape(url.Values{}); got != "" {
		t.Fatalf("queryShape of no query = %q, want empty", got)
	}
}
