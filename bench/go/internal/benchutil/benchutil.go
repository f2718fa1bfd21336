// Package benchutil holds what the Go twins share: /proc/self/status
// figures, loud failure, and the -timer flag of yield and pingpong.
package benchutil

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// KB returns the value of a "Key:   123 kB" line of /proc/self/status in
// KiB, or -1 if the line is missing.
func KB(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		rest := strings.TrimPrefix(line, key+":")
		if rest == line {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return -1
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return -1
		}
		return v
	}
	return -1
}

// Fail reports a failed check on stderr and exits 1.
func Fail(format string, args ...interface{}) {
	os.Stdout.Sync()
	fmt.Fprintf(os.Stderr, "BENCH FAILED: "+format+"\n", args...)
	os.Exit(1)
}

// Positive fails unless a size flag is > 0.
func Positive(name string, v int) {
	if v <= 0 {
		Fail("-%s must be > 0 (got %d)", name, v)
	}
}

// PendingTimer starts the timer of -timer (nil for 0): set that far ahead,
// it stays pending through the run, as a program's ticker or timeout would.
func PendingTimer(ahead time.Duration) *time.Timer {
	if ahead <= 0 {
		return nil
	}
	return time.NewTimer(ahead)
}

// CheckPending fails the run if the -timer timer fired before its end.
func CheckPending(t *time.Timer) {
	if t != nil && !t.Stop() {
		Fail("the -timer fired during the run: set it further ahead")
	}
}

// TimerKey is " timer_ms=N" for the result line, "" without a timer.
func TimerKey(ahead time.Duration) string {
	if ahead <= 0 {
		return ""
	}
	return fmt.Sprintf(" timer_ms=%d", ahead.Milliseconds())
}
