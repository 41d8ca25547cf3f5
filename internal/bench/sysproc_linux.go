package bench

import "syscall"

// childAttr makes the server die with the benchmark, even if the benchmark
// is killed before it can stop it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
