/*
 * syscall_stub.c - placeholders for gor_syscall_enter/exit so that the
 * library links while the system-call hand-off is being written. REPLACED
 * BY THE sys BRANCH (runtime/syscall.c: Go's entersyscall/exitsyscall,
 * with sysmon retaking the P of a long call); delete this file when
 * merging it.
 *
 * As stubs they keep the P for the whole call: a blocking call made
 * between them (io.c's blocking path for regular files, getaddrinfo in
 * gor_listen_tcp/gor_dial_tcp) stops the other goroutines of that P
 * until it returns, as an unbracketed call would.
 */
#include "runtime.h"

void gor_syscall_enter(void)
{
}

void gor_syscall_exit(void)
{
}
