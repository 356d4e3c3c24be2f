// Command reelkube-s3server is an S3-compatible server that verifies what clouds verify:
// AWS Signature Version 4 on every request (header or presigned query), presigned-URL
// expiry and signed payload digests. Objects live in files under -data (a PVC in the
// chart's embedded storage), served by gofakes3's filesystem backend.
//
// Credentials come from files AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in -credentials-dir
// (the chart mounts its generated Secret there), else from the environment variables of the
// same names. GET /-/healthz answers without a
// signature ('-' cannot start a bucket name, so no bucket is shadowed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
)

// version is stamped by tests/cluster/build.sh (-X main.version=...).
var version = "dev"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reelkube-s3server:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", ":9000", "address to listen on")
	data := flag.String("data", "", "directory holding the buckets (created if missing)")
	buckets := flag.String("buckets", "", "comma-separated buckets to create at start when missing")
	region := flag.String("region", "us-east-1", "region a signature's scope must name (empty: any)")
	credentialsDir := flag.String("credentials-dir", "", "directory with files AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (default: the environment)")
	logRequests := flag.Bool("access-log", false, "log every verified request (method, path, query parameter names, status)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	if *data == "" {
		return errors.New("-data is required (the directory that holds the buckets)")
	}
	accessKey, secretKey, err := readCredentials(*credentialsDir)
	if err != nil {
		return err
	}

	root, err := filepath.Abs(*data)
	if err != nil {
		return err
	}
	spool := filepath.Join(root, ".spool")
	for _, dir := range []string{root, spool} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	// Payloads left over from a crash mid-upload.
	if leftovers, _ := filepath.Glob(filepath.Join(spool, "payload-*")); leftovers != nil {
		for _, f := range leftovers {
			os.Remove(f)
		}
	}
	objects, err := s3afero.FsPath(filepath.Join(root, "s3"), s3afero.FsPathCreate)
	if err != nil {
		return fmt.Errorf("opening %s: %w", root, err)
	}
	files, err := s3afero.MultiBucket(objects)
	if err != nil {
		return err
	}
	backend := listingFix{files}
	for _, bucket := range strings.Split(*buckets, ",") {
		if bucket = strings.TrimSpace(bucket); bucket == "" {
			continue
		}
		if err := backend.CreateBucket(bucket); err != nil && !gofakes3.IsAlreadyExists(err) {
			return fmt.Errorf("creating bucket %q: %w", bucket, err)
		}
	}

	s3 := gofakes3.New(backend, gofakes3.WithIntegrityCheck(true), gofakes3.WithLogger(gofakes3.StdLog(log.Default(), gofakes3.LogErr)))
	verified := &verifier{
		next:     s3.Server(),
		secrets:  map[string]string{accessKey: secretKey},
		region:   *region,
		now:      time.Now,
		spoolDir: spool,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	if *logRequests {
		mux.Handle("/", verifiedAndLogged(verified))
	} else {
		mux.Handle("/", verified)
	}

	server := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	errs := make(chan error, 1)
	go func() { errs <- server.ListenAndServe() }()
	log.Printf("reelkube-s3server %s listening on %s, data in %s, region %q", version, *listen, root, *region)
	select {
	case err := <-errs:
		return err
	case sig := <-stop:
		log.Printf("%s: shutting down", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return server.Shutdown(ctx)
	}
}

// verifiedAndLogged logs the requests the verifier lets through (it logs its refusals itself).
func verifiedAndLogged(v *verifier) http.Handler {
	v.next = accessLog{next: v.next}
	return v
}

// readCredentials reads the one key pair every signature is checked against.
func readCredentials(dir string) (accessKey, secretKey string, err error) {
	if dir == "" {
		accessKey, secretKey = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if accessKey == "" || secretKey == "" {
			return "", "", errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (or -credentials-dir given): every request is verified against them")
		}
		return accessKey, secretKey, nil
	}
	values := make([]string, 2)
	for i, name := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", "", fmt.Errorf("reading the credentials: %w", err)
		}
		if values[i] = strings.TrimSpace(string(raw)); values[i] == "" {
			return "", "", fmt.Errorf("%s is empty", filepath.Join(dir, name))
		}
	}
	return values[0], values[1], nil
}

// listingFix corrects one answer of gofakes3's filesystem backend: a listing with the "/"
// delimiter under a prefix that names no folder yet is NoSuchBucket there, but an empty
// listing in S3.
type listingFix struct {
	*s3afero.MultiBucketBackend
}

func (b listingFix) ListBucket(bucket string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	list, err := b.MultiBucketBackend.ListBucket(bucket, prefix, page)
	if gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchBucket) {
		if exists, existsErr := b.BucketExists(bucket); existsErr == nil && exists {
			return gofakes3.NewObjectList(), nil
		}
	}
	return list, err
}
