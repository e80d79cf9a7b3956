#!/bin/sh
# SPDX-License-Identifier: MIT
# ckptfs under valgrind memcheck, for running the mount tests with
# CKPTFS pointing here: every process (the daemon after it forks included)
# writes its report to $CKPT_VG_LOGS/<pid>.log, which tests/valgrind.sh
# reads afterwards.  CKPT_VG_BIN is the real binary; called as
# mount.ckptfs, it runs it under that name (through a link in the log
# directory), which is what selects the mount helper's arguments.
# libfuse.supp holds the one leak of libfuse's own that a mount may show at
# exit.
bin=$CKPT_VG_BIN
if [ "$(basename "$0")" = mount.ckptfs ]; then
	bin=$CKPT_VG_LOGS/mount.ckptfs
	ln -sf "$CKPT_VG_BIN" "$bin"
fi
exec valgrind -q --log-file="$CKPT_VG_LOGS/%p.log" --leak-check=full \
	--suppressions="$(dirname "$(readlink -f "$0")")/libfuse.supp" \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--error-exitcode=99 "$bin" "$@"
