// Command tollgate is an admission and policy layer for GPU and agentic-AI
// workloads on Amazon EKS.
package main

import "github.com/tollgate-dev/tollgate/cmd/tollgate/app"

func main() { app.Main() }
