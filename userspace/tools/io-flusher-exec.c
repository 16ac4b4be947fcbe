// SPDX-License-Identifier: GPL-2.0
/*
 * io-flusher-exec: run a program with PR_SET_IO_FLUSHER set, the "blanket" baseline.
 *
 * PR_SET_IO_FLUSHER makes the whole task PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE, which is
 * what upstream recommends for userspace block servers such as tcmu-runner. The flag
 * survives execve(2) (task flags are kept) and is inherited by threads.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#define PR_GET_IO_FLUSHER 58
#endif

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: io-flusher-exec PROGRAM [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "io-flusher-exec: PR_SET_IO_FLUSHER: %s\n", strerror(errno));
		return 1;
	}
	if (prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0) != 1) {
		fprintf(stderr, "io-flusher-exec: PR_SET_IO_FLUSHER did not stick\n");
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "io-flusher-exec: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
