package auth

import "syscall"

// lowerThreadPriority sets the calling OS thread's nice value: on Linux
// each thread has its own, and raising it needs no privilege.
func lowerThreadPriority(nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}

// threadNice is the calling thread's nice value.
func threadNice() int {
	// The raw system call answers 20 - nice, so that it is never negative.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return 0
	}
	return 20 - p
}
