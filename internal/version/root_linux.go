package version

import "syscall"

// rootReadOnly reports whether / is mounted read-only: statfs(2)'s
// ST_RDONLY flag, which syscall spells MS_RDONLY (the same value, 1).
func rootReadOnly() *bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/", &st); err != nil {
		return nil
	}
	ro := st.Flags&syscall.MS_RDONLY != 0
	return &ro
}
