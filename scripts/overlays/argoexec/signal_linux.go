// The Linux signal functions of Argo Workflows' executor (package os_specific), which the
// module zip of github.com/argoproj/argo-workflows/v3 leaves out (it has only the darwin and
// windows files), so `argoexec` does not build for Linux from the Go module proxy.
// scripts/install-tools.sh adds this file with `go build -overlay`; written here for the
// testbed, to the interface the package's other files use.

package os_specific

import (
	"os"
	"syscall"

	"github.com/argoproj/argo-workflows/v3/util/errors"
)

// Term is the signal that asks the main container's process to stop.
var Term = syscall.SIGTERM

// CanIgnoreSignal says which signals emissary does not forward to the process it runs.
func CanIgnoreSignal(s os.Signal) bool {
	return s == syscall.SIGCHLD || s == syscall.SIGURG
}

// Kill signals the process's group (it runs in its own, see Setpgid), or the process alone
// when it has none.
func Kill(pid int, s syscall.Signal) error {
	if group, err := syscall.Getpgid(pid); err == nil {
		return syscall.Kill(-group, s)
	}
	return syscall.Kill(pid, s)
}

// Setpgid starts the process in a new process group, so Kill reaches its children too.
func Setpgid(attr *syscall.SysProcAttr) {
	attr.Setpgid = true
}

// Wait waits for the process and turns how it ended into Argo's exit error: its exit code,
// or 128 + the signal that ended it (as a shell reports it).
func Wait(process *os.Process) error {
	state, err := process.Wait()
	if err != nil {
		return err
	}
	status, ok := state.Sys().(syscall.WaitStatus)
	if ok && status.Signaled() {
		return errors.NewExitErr(128 + int(status.Signal()))
	}
	return errors.NewExitErr(state.ExitCode())
}
