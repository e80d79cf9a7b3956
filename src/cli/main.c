/* SPDX-License-Identifier: MIT */
/* This file implements the ckptfs command line: subcommand dispatch, --help
 * and --version. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "remote/remote.h"
#include "util/ck_err.h"
#include "util/ck_log.h"

static const char usage[] =
	"usage: ckptfs SRC MOUNTPOINT [-f] [-d] [-s] [-o OPTIONS]\n"
	"       ckptfs convert SRC OUT [--stats] [-o OPTIONS]\n"
	"       ckptfs convert --to maxtext SRC OUT [-o OPTIONS]\n"
	"       ckptfs plan SRC [-o OPTIONS]\n"
	"       ckptfs inspect SRC [--json] [--step N] [--mappings DIR]\n"
	"       ckptfs dump SRC ARRAY [--raw] [--step N]\n"
	"       ckptfs example DIR [--family F] [--unscanned] [--float32] [--scale K]\n"
	"                      [--layers N] [--pad-vocab N] [--chunks N] [--random]\n"
	"                      [--data-file-bytes N] [--processes N]\n"
	"                      [--tree linen|nnx-sft|nnx-rl|nnx-list] [--train]\n"
	"                      [--experts N] [--chunk-axis K] | --list\n"
	"       ckptfs --help | --version\n"
	"\n"
	"SRC is a MaxText or Tunix checkpoint: a run directory, its checkpoints/\n"
	"directory, a step directory, or an item directory (items/, default/,\n"
	"state/, model_params/); a plain TensorStore OCDBT or zarr directory works\n"
	"too.  The weights may be in MaxText's Linen tree (params.params.*) or in\n"
	"Tunix's NNX trees (*.value, base.*.value); inspect says which.\n"
	"\n"
	"  inspect   list every array: name, dtype, shape, chunk shape, chunks,\n"
	"            stored bytes; plus the step, the format, the total size, the\n"
	"            family the array names fit and the presets that match\n"
	"  dump      write one array to stdout as a .npy file (bfloat16 is\n"
	"            widened to float32; --raw keeps the bits, as uint16)\n"
	"  --step N  open step N instead of the latest committed step\n"
	"\n"
	"The mount (and convert, plan) shows the checkpoint as a Hugging Face model\n"
	"directory: config.json, model-0000k-of-0000n.safetensors,\n"
	"model.safetensors.index.json and tokenizer files.  OPTIONS (comma-separated):\n"
	"  hf_config=FILE   the target's HF config.json (gives family and dims)\n"
	"  model=NAME       a built-in preset (mappings/presets/NAME.json)\n"
	"  dtype=auto|bfloat16|float32|float16   served dtype (auto: as stored)\n"
	"  step=N           checkpoint step (default: latest committed)\n"
	"  shard_size=SIZE  tensor bytes per safetensors file (default: half of\n"
	"                   cache_size, 256MiB to 5GB), cut between groups\n"
	"  cache_size=SIZE  budget of the converted-tensor cache (default 1GiB)\n"
	"  cache_dir=DIR    disk tier of that cache: converted tensors that do not\n"
	"                   fit in cache_size are kept in files under DIR, so a\n"
	"                   small cache_size does not force re-decoding; without\n"
	"                   it, a default tier in ~/.cache/ckptfs takes only what\n"
	"                   the cache cannot keep (cache_dir=none: no tier)\n"
	"  cache_dir_size=SIZE  budget of cache_dir (default 64GiB)\n"
	"  cache_dir_keep   leave the cache_dir files at unmount, for the next\n"
	"                   mount of the same view (else they are removed)\n"
	"  read_ahead=SIZE  kernel readahead (default cache_size/64, 1-16MiB; 0: kernel's)\n"
	"  tokenizer=DIR    pass the tokenizer files of DIR through (regular files\n"
	"                   with a tokenizer's name, never a symlink)\n"
	"  follow_symlinks  files of the checkpoint may be symlinks out of it\n"
	"  mappings=DIR     use the mapping files of DIR\n"
	"  config.KEY=VALUE set field KEY of config.json (VALUE as JSON if it\n"
	"                   parses, else a string); without hf_config= or model=,\n"
	"                   the fields the shapes cannot give must be set this way\n"
	"  uid=N,gid=N,umask=M  replace the owner, group and mode of every file\n"
	"                   (else each file may be read only by who could read\n"
	"                   its sources; default_permissions is always on)\n"
	"  allow_other, debug and other FUSE options; _netdev, nofail, auto,\n"
	"  noauto, user, users are ignored.  Unmount with fusermount3 -u.\n"
	"\n"
	"With -o view=maxtext the mount goes the other way: SRC is a Hugging Face\n"
	"model directory (config.json, safetensors files) and MOUNTPOINT shows the\n"
	"MaxText checkpoint `convert --to maxtext` would write from it, step 0:\n"
	"0/_CHECKPOINT_METADATA and 0/items/ (one OCDBT database, zarr v3 chunks\n"
	"stored uncompressed), computed as they are read; point MaxText's\n"
	"load_parameters_path at MOUNTPOINT/0/items.  OPTIONS (comma-separated):\n"
	"  scan_layers=true|false  layers stacked in one array (default) or one\n"
	"                   array per layer\n"
	"  dtype=bfloat16|float32  the arrays' dtype (default bfloat16)\n"
	"  chunks=N         chunks along axis 0 of each array (default 16)\n"
	"  vocab_rows=N     MaxText's padded vocabulary rows (default: HF's)\n"
	"  hf_config=FILE, model=NAME, config.KEY=VALUE  the config to use\n"
	"                   instead of the directory's config.json\n"
	"  cache_size=SIZE  budget of the computed-chunk cache (default 1GiB)\n"
	"\n"
	"Exit status: 0 ok, 1 the checkpoint could not be read, 2 bad usage.\n";

int cli_fail(int err)
{
	char msg[2048];

	snprintf(msg, sizeof(msg), "%s", *ck_err_msg() ? ck_err_msg() :
		 strerror(err < 0 ? -err : err));
	ck_log_sanitize(msg);
	fprintf(stderr, "ckptfs: error: %s\n", msg);
	return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ckptfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try 'ckptfs --help')\n", stderr);
	return CLI_EXIT_USAGE;
}

int cli_parse_step(const char *s, int64_t *step)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return -EINVAL;
	*step = v;
	return 0;
}

/* Raise the soft limit on open files to the hard one, as daemons that read
 * many files do: a checkpoint may have thousands of data files, and a
 * systemd unit starts ckptfs with a soft limit of 1024.  The store keeps a
 * quarter of the limit open (kvstore_files.h), so a low hard limit still
 * works, with more reopening. */
static void raise_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int run(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	const char *base = strrchr(argv[0], '/');

	/* Installed as the mount(8) helper mount.ckptfs. */
	if (!strcmp(base ? base + 1 : argv[0], "mount.ckptfs"))
		return cmd_mount(argc, argv);

	if (!cmd)
		return cli_usage_error("missing command");
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("ckptfs %s\n", CKPT_VERSION);
		return CLI_EXIT_OK;
	}
	if (!strcmp(cmd, "inspect"))
		return cmd_inspect(argc - 1, argv + 1);
	if (!strcmp(cmd, "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(cmd, "convert"))
		return cmd_convert(argc - 1, argv + 1);
	if (!strcmp(cmd, "plan"))
		return cmd_plan(argc - 1, argv + 1);
	if (!strcmp(cmd, "example"))
		return cmd_example(argc - 1, argv + 1);
	if (!strcmp(cmd, "mount"))
		return cmd_mount(argc - 1, argv + 1);
	/* `ckptfs SRC MNT ...`, as mount.fuse3 and mount(8) helpers run it. */
	if (cmd[0] != '-' && argc >= 3)
		return cmd_mount(argc, argv);
	return cli_usage_error("unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
	int rc;

	raise_nofile_limit();
	rc = run(argc, argv);
	rmt_shutdown();		/* wipes the remote credentials */
	return rc;
}
