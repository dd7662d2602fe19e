// Package baredecoder is the floor of the HTTPS webhook benchmark: a TLS
// server that reads an AdmissionReview, decodes it as Tollgate's webhooks do,
// and answers allowed without evaluating anything. What it costs on a
// machine, every admission webhook on that machine pays; Tollgate's latency
// is read against it.
//
// It also records the bodies it receives when asked to, which is how the
// benchmark captures the AdmissionReviews a real API server sends.
package baredecoder

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	kjson "sigs.k8s.io/json"

	"github.com/tollgate-dev/tollgate/cmd/tollgate/app"
	"github.com/tollgate-dev/tollgate/webhooks"
)

// Handler decodes each AdmissionReview and allows it. record, when not nil,
// receives every well-formed body before the answer is written.
func Handler(record func(body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhooks.MaxBodyBytes))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The same decoder and checks as webhooks.Handler.
		var ar admissionv1.AdmissionReview
		if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &ar); err != nil {
			http.Error(w, "request body is not an AdmissionReview: "+err.Error(), http.StatusBadRequest)
			return
		}
		if ar.Request == nil || ar.Request.UID == "" {
			http.Error(w, "AdmissionReview has no request uid", http.StatusBadRequest)
			return
		}
		if record != nil {
			record(body)
		}
		out := admissionv1.AdmissionReview{Response: &admissionv1.AdmissionResponse{UID: ar.Request.UID, Allowed: true}}
		out.SetGroupVersionKind(admissionv1.SchemeGroupVersion.WithKind("AdmissionReview"))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}

// Listen opens a TLS listener on addr with the key pair tls.crt and tls.key
// of certDir, configured as `tollgate serve` configures its webhook server:
// serve applies app.TLSOptions and app.DisableHTTP2.
func Listen(addr, certDir string) (net.Listener, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "tls.crt"), filepath.Join(certDir, "tls.key"))
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	app.TLSOptions(cfg)
	app.DisableHTTP2(cfg)
	return tls.Listen("tcp", addr, cfg)
}

// Serve serves h on l until ctx is done. The server's limits are
// controller-runtime's (its httpserver.New).
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		MaxHeaderBytes:    1 << 20,
		IdleTimeout:       90 * time.Second,
		ReadHeaderTimeout: 32 * time.Second,
	}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
