//go:build linux

// Command probe is the smallest container scripts/podman.sh can run to
// prove podman works here: a static binary alone in a root filesystem
// that prints who it runs as and whether its root filesystem is read-only,
// as one JSON line.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
)

func main() {
	// ST_RDONLY (statvfs(3)): the mount flag of a read-only filesystem;
	// syscall spells it MS_RDONLY, with the same value 1.
	var st syscall.Statfs_t
	if err := syscall.Statfs("/", &st); err != nil {
		fmt.Fprintln(os.Stderr, "probe: statfs /:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(struct {
		UID          int  `json:"uid"`
		GID          int  `json:"gid"`
		RootReadOnly bool `json:"rootReadOnly"`
	}{os.Getuid(), os.Getgid(), st.Flags&syscall.MS_RDONLY != 0})
	fmt.Println(string(b))
}
