package bench

import (
	"context"
	"fmt"

	"github.com/tollgate-dev/tollgate/conformance/bench/loadgen"
)

// Target is a server process under load at one endpoint.
type Target struct {
	// Server names the server in the report.
	Server string
	// Endpoint is the path under load.
	Endpoint string
	Proc     *Proc
	HTTP     *loadgen.HTTP
}

// HTTPSRow is one run against one server.
type HTTPSRow struct {
	Server   string          `json:"server"`
	Endpoint string          `json:"endpoint"`
	Result   *loadgen.Result `json:"result"`
	// CPUSeconds is the server's CPU time (user and system) during the
	// measured part; PeakRSS its resident-set high-water mark then.
	CPUSeconds float64 `json:"cpuSeconds"`
	PeakRSS    uint64  `json:"peakRSS"`
}

// CPUPerRequest is the server's CPU time per successful request, in
// microseconds.
func (r *HTTPSRow) CPUPerRequest() float64 {
	if r.Result == nil || r.Result.OK == 0 {
		return 0
	}
	return r.CPUSeconds / float64(r.Result.OK) * 1e6
}

// MeasureHTTPS runs the load o against t, and reads the server's CPU time and
// peak resident set over the measured part from /proc.
func MeasureHTTPS(ctx context.Context, t *Target, o loadgen.Options) (*HTTPSRow, error) {
	if done, err := t.Proc.Exited(); done {
		return nil, fmt.Errorf("%s exited (%v):\n%s", t.Server, err, t.Proc.LogTail(30))
	}
	var before Usage
	then := o.BeforeMeasure
	o.BeforeMeasure = func() error {
		if err := ResetPeak(t.Proc.Pid()); err != nil {
			return fmt.Errorf("resetting the peak RSS of %s: %w", t.Server, err)
		}
		var err error
		if before, err = ReadUsage(t.Proc.Pid()); err != nil || then == nil {
			return err
		}
		return then()
	}
	res, err := t.HTTP.Run(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", t.Server, t.Endpoint, err)
	}
	after, err := ReadUsage(t.Proc.Pid())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Server, err)
	}
	return &HTTPSRow{Server: t.Server, Endpoint: t.Endpoint, Result: res,
		CPUSeconds: after.CPUSeconds - before.CPUSeconds, PeakRSS: after.PeakRSS}, nil
}
