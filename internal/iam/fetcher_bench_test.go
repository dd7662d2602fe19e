package iam

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/iam/iamtest"
)

// BenchmarkLookup measures Fetcher.Lookup against a loopback IAM endpoint
// through the SDK: warm (the role is cached) and cold (a new role every
// lookup: GetRole, two list calls, and the policy reads of five managed and
// three inline policies plus the boundary). It reports latency percentiles
// and role fetches (GetRole calls) per lookup.
//
//	go test ./internal/iam -run '^$' -bench Lookup -benchtime 2000x
func BenchmarkLookup(b *testing.B) {
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			s := newServer(b)
			roles := []string{vllmRole}
			if cold {
				roles = make([]string, b.N)
				for i := range roles {
					roles[i] = fmt.Sprintf("arn:aws:iam::123456789012:role/vllm-%d", i)
					s.AddRole(iamtest.Role{ARN: roles[i], Boundary: boundaryARN, Attached: []string{managedARN(0), managedARN(1), managedARN(2), managedARN(3), managedARN(4)}, Inline: map[string]string{
						"a-models": seedPolicy(b), "b-logs": policyDoc("logs:PutLogEvents", "*"), "c-ecr": policyDoc("ecr:BatchGetImage", "*"),
					}})
				}
			}
			f := newFetcher(b, testConfig(), Admission)
			if !cold {
				if r := f.Lookup(b.Context(), vllmRole); r.Status != StatusOK {
					b.Fatal(r.Reason)
				}
			}
			before := s.Calls("GetRole")
			lat := make([]time.Duration, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				r := f.Lookup(b.Context(), roles[i%len(roles)])
				lat[i] = time.Since(start)
				if r.Status != StatusOK {
					b.Fatal(r.Reason)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			b.ReportMetric(float64(s.Calls("GetRole")-before)/float64(b.N), "fetches/op")
		})
	}
}
